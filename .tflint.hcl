# tflint for every module under modules/ (scripts/lint-terraform.sh runs it once per module).
# Only the bundled terraform ruleset: the AWS ruleset plugin would have to be downloaded, which the
# offline CI machine cannot do. "all" turns on every rule of it, including documented and typed
# variables/outputs, the standard module structure and unused declarations.
config {
  call_module_type = "none"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
