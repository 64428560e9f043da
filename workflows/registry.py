"""The workflow registry, re-exported: ``from workflows.registry import workflow`` stays the
way a workflow author registers one. The registry and the executor live in the library
(:mod:`shared.admin.workflows`), so ``shared/`` never imports the app's ``workflows/``."""

from shared.admin.workflows import (
    IncompatibleConfigError,
    InvalidParamsError,
    UnknownWorkflowError,
    WorkflowFn,
    config_model,
    get_workflow,
    list_workflows,
    params_model,
    run_workflow,
    unregister,
    workflow,
)

__all__ = [
    "IncompatibleConfigError", "InvalidParamsError", "UnknownWorkflowError", "WorkflowFn",
    "config_model", "get_workflow",
    "list_workflows", "params_model", "run_workflow", "unregister", "workflow",
]
