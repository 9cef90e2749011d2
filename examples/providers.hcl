# A provider definitions file: what `tfmirror load` fetches from the origin registries.
# Each origin must have an `upstream "HOSTNAME" {}` block in the tfmirror configuration.

provider "registry.terraform.io/hashicorp/aws" {
  versions  = ["5.31.0", "~> 4.67"]          # exact versions and/or Terraform-style constraints
  platforms = ["linux_amd64", "darwin_arm64"]
}

provider "hashicorp/random" {                # hostname defaults to registry.terraform.io
  versions  = [">= 3.5.0, < 3.7.0"]
  platforms = ["linux_amd64", "linux_arm64", "darwin_arm64", "windows_amd64"]
}
