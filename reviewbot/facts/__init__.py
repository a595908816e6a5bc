"""What the code does, as frozen dataclasses built from a CUnit (no tree_sitter import here).

    facts = facts_of(unit)
    facts.function("bpf_handle_oom").params
    facts.struct("bpf_oom_ops").field("name").array_sizes
    facts.flow("bpf_handle_oom").held_at_exits()
"""

from reviewbot.lazy import exports

# Imported on first use (PEP 562): `from reviewbot.facts.types import balanced` (dedupe does) then
# costs that module, not the extractor, the flow builder and the fact classes, and a process
# that never extracts facts (a review's model child) never loads them.
_EXPORTS = {
    "Assignment": "model", "Call": "model", "Condition": "model", "Event": "flow", "Fact": "model",
    "Facts": "model", "Field": "model", "Function": "model", "FunctionFlow": "flow",
    "GlobalDefinition": "model", "HeldAtExit": "flow", "Initializer": "model", "InitializerEntry": "model",
    "IteratorLoop": "model", "KernelDoc": "model", "LockOp": "locks", "LockSection": "flow", "Macro": "model",
    "Param": "model", "Path": "flow", "Return": "model", "StringLiteral": "model", "Struct": "model",
    "facts_of": "extract", "function_flow": "flow", "lock_op": "locks", "split_arguments": "extract",
}

__getattr__ = exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
