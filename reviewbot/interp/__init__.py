"""A small interpreter for the C subset kernel code uses, over csource's trees; shared by models.

    program = Program.from_units([cunit, ...])      # converted once, shared by every scenario
    m = Machine(program, STUBS)                     # one world: memory, kernel state, events
    th = m.thread("cpu0", "bpf_handle_oom", [oc])   # a thread running one call
    run_alone(m, th)  /  run_interleaved(m, a, b, k)

Code the machine cannot run raises NotModelled(construct, line, reason); it is reported, never
guessed around.
"""

from reviewbot.interp.errors import Fault, NotModelled
from reviewbot.interp.kernel import STUBS
from reviewbot.interp.machine import Call, Event, Machine, Thread, Wait, stub
from reviewbot.interp.memory import NULL, Block, Func, Opaque, Ptr, Struct, c_string
from reviewbot.interp.program import Program
from reviewbot.interp.sched import run_alone, run_interleaved

__all__ = ["Block", "Call", "Event", "Fault", "Func", "Machine", "NULL", "NotModelled", "Opaque", "Program",
           "Ptr", "STUBS", "Struct", "Thread", "Wait", "c_string", "run_alone", "run_interleaved", "stub"]
