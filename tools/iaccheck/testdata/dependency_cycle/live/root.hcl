remote_state {
  backend = "local"
  config  = {}
}
