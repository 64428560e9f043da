"""Workflows: the registry and the example workflows (imported here so they register)."""

from workflows import examples as examples
from workflows.registry import (
    UnknownWorkflowError,
    get_workflow,
    list_workflows,
    run_workflow,
    workflow,
)

__all__ = ["UnknownWorkflowError", "get_workflow", "list_workflows", "run_workflow", "workflow"]
