"""Workflows: the registry and the example workflows (imported here so they register)."""

from workflows import examples as examples
from workflows.registry import (
    InvalidParamsError,
    UnknownWorkflowError,
    get_workflow,
    list_workflows,
    params_model,
    run_workflow,
    workflow,
)

__all__ = ["InvalidParamsError", "UnknownWorkflowError", "get_workflow", "list_workflows",
           "params_model", "run_workflow", "workflow"]
