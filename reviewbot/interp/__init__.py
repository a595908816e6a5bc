"""A small interpreter for the C subset kernel code uses, over csource's trees; shared by models.

    program = Program.from_units([cunit, ...])      # converted once, shared by every scenario
    m = Machine(program, STUBS)                     # one world: memory, kernel state, events
    th = m.thread("cpu0", "bpf_handle_oom", [oc])   # a thread running one call
    run_alone(m, th)  /  run_interleaved(m, a, b, k)

Code the machine cannot run raises NotModelled(construct, line, reason); it is reported, never
guessed around.
"""

from reviewbot.lazy import exports

# Imported on first use (PEP 562): `from reviewbot.interp.errors import NotModelled` (the model
# registry does, to catch it) then costs the errors module, not the whole interpreter, in a process
# where no model runs.
_EXPORTS = {
    "Fault": "errors", "NotModelled": "errors", "STUBS": "kernel", "Call": "machine", "Event": "machine",
    "Machine": "machine", "Thread": "machine", "Wait": "machine", "stub": "machine", "NULL": "memory",
    "Block": "memory", "Func": "memory", "Opaque": "memory", "Ptr": "memory", "Struct": "memory",
    "c_string": "memory", "Program": "program", "run_alone": "sched", "run_interleaved": "sched",
}

__getattr__ = exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
