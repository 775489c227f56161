"""`stepqueue init`: a new project, and the upgrade of its Terraform wrapper."""
