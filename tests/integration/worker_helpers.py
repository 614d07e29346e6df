"""Worker processes on a deployment of their own: the product's harness, under the tests' names."""

from __future__ import annotations

from harness.deployment import Deployment as PrivateDeployment
from harness.waiting import wait_until

__all__ = ["PrivateDeployment", "wait_until"]
