# Read only in a VPC: a function outside one needs no EC2 ARNs.
data "aws_partition" "current" {
  count = length(var.subnet_ids) == 0 ? 0 : 1
}

data "aws_region" "current" {
  count = length(var.subnet_ids) == 0 ? 0 : 1
}

data "aws_caller_identity" "current" {
  count = length(var.subnet_ids) == 0 ? 0 : 1
}

locals {
  ec2_arn_prefix = length(var.subnet_ids) == 0 ? null : "arn:${data.aws_partition.current[0].partition}:ec2:${data.aws_region.current[0].name}:${data.aws_caller_identity.current[0].account_id}"
  vpc_arns = local.ec2_arn_prefix == null ? null : {
    network_interfaces = "${local.ec2_arn_prefix}:network-interface/*"
    subnets            = [for id in var.subnet_ids : "${local.ec2_arn_prefix}:subnet/${id}"]
    security_groups    = [for id in var.security_group_ids : "${local.ec2_arn_prefix}:security-group/${id}"]
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = coalesce(var.role_name, var.function_name)
  description          = var.role_description
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.role_permissions_boundary

  tags = var.tags
}

# One inline policy: the caller's statements first, then logging and tracing. One document
# rather than two policies keeps a single place to read what the function may do.
data "aws_iam_policy_document" "this" {
  source_policy_documents = [var.policy_json]

  statement {
    sid = "WriteOwnLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # In a VPC, what AWSLambdaVPCAccessExecutionRole grants, scoped where EC2 allows it: Lambda
  # creates the function's network interfaces in the given subnets and security groups, and
  # deletes them. The Describe actions have no resource type: AWS requires "*".
  dynamic "statement" {
    for_each = local.vpc_arns == null ? [] : [local.vpc_arns]
    content {
      sid       = "VpcCreateNetworkInterfaces"
      actions   = ["ec2:CreateNetworkInterface"]
      resources = concat([statement.value.network_interfaces], statement.value.subnets, statement.value.security_groups)
    }
  }

  dynamic "statement" {
    for_each = local.vpc_arns == null ? [] : [local.vpc_arns]
    content {
      sid = "VpcManageNetworkInterfaces"
      actions = [
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = [statement.value.network_interfaces]
    }
  }

  dynamic "statement" {
    for_each = local.vpc_arns == null ? [] : [1]
    content {
      sid = "VpcDescribe"
      actions = [
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
      ]
      resources = ["*"]
    }
  }

  # X-Ray's PutTraceSegments / PutTelemetryRecords have no resource type: AWS requires "*".
  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []
    content {
      sid = "XRay"
      actions = [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.policy_name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# Extra permissions of this function alone (var.policy_statements), in a policy of their own:
# what the caller adds is read apart from what the module grants, and its statement ids cannot
# collide with the module's. None: no policy (a function without them plans as before).
data "aws_iam_policy_document" "extra" {
  count = length(var.policy_statements) == 0 ? 0 : 1

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "extra" {
  count = length(var.policy_statements) == 0 ? 0 : 1

  name   = "${var.policy_name}-extra"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.extra[0].json
}

resource "aws_iam_role_policy_attachment" "managed" {
  for_each = toset(var.managed_policy_arns)

  role       = aws_iam_role.this.name
  policy_arn = each.value
}
