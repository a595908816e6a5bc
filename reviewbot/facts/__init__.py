"""What the code does, as frozen dataclasses built from a CUnit (no tree_sitter import here).

    facts = facts_of(unit)
    facts.function("bpf_handle_oom").params
    facts.struct("bpf_oom_ops").field("name").array_sizes
    facts.flow("bpf_handle_oom").held_at_exits()
"""

from reviewbot.facts.extract import facts_of, split_arguments
from reviewbot.facts.flow import Event, FunctionFlow, HeldAtExit, LockSection, Path, function_flow
from reviewbot.facts.locks import LockOp, lock_op
from reviewbot.facts.model import (
    Assignment,
    Call,
    Condition,
    Fact,
    Facts,
    Field,
    Function,
    GlobalDefinition,
    Initializer,
    InitializerEntry,
    IteratorLoop,
    KernelDoc,
    Macro,
    Param,
    Return,
    StringLiteral,
    Struct,
)

__all__ = [
    "Assignment", "Call", "Condition", "Event", "Fact", "Facts", "Field", "Function", "FunctionFlow",
    "GlobalDefinition", "HeldAtExit", "Initializer", "InitializerEntry", "IteratorLoop", "KernelDoc",
    "LockOp", "LockSection", "Macro", "Param", "Path", "Return", "StringLiteral", "Struct", "facts_of",
    "function_flow", "lock_op", "split_arguments",
]
