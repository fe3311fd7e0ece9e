include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "git::https://example.com/repo.git//modules/net?ref=v1"
}

inputs = {
  name = "net"
}
