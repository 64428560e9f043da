"""The workflow registry, re-exported: ``from workflows.registry import workflow`` stays the
way a workflow author registers one. The registry and the executor live in the library
(:mod:`shared.workflows`), so ``shared/`` never imports the app's ``workflows/``."""

from shared.workflows import (
    UnknownWorkflowError,
    WorkflowFn,
    get_workflow,
    list_workflows,
    run_workflow,
    unregister,
    workflow,
)

__all__ = [
    "UnknownWorkflowError", "WorkflowFn", "get_workflow", "list_workflows", "run_workflow",
    "unregister", "workflow",
]
