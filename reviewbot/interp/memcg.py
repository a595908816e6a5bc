"""The memory cgroup tree as the kernel's helpers show it to the code a world runs.

`make_tree(m, [(label, cgroup id, parent label), ...])` makes the memcgs of a world: each a
`struct mem_cgroup` whose `css.cgroup->kn->id` is its cgroup id and whose `css.parent` is its
parent's css (`parent_mem_cgroup()` follows it; the root has none), and `root_mem_cgroup`. Lookups
by id (`mem_cgroup_get_from_ino()`, `cgroup_get_from_id()`) find a memcg until it is being removed
(`remove()`: rmdir makes its kernfs node inactive, so its id no longer resolves, before the css goes
offline) and give ERR_PTR(-ENOENT) after. Fields of these objects the helpers do not set are
uninitialized, so code that reads another one is not modelled rather than given a made-up value.

The stubs are in `MEMCG_STUBS`, for worlds that have a tree (`dict(STUBS, **MEMCG_STUBS)`).
Reference counts (css_get/css_put, mem_cgroup_put) are accepted and not tracked.
"""

from __future__ import annotations

from typing import Any

from reviewbot.interp.errors import NotModelled
from reviewbot.interp.frames import stub
from reviewbot.interp.kernel import ERR_BLOCK
from reviewbot.interp.memory import NULL, Block, Ptr, Struct
from reviewbot.interp.values import ERRNO, container_of

MEMCG = ("struct", "mem_cgroup")
MEMCG_STUBS: dict[str, Any] = {}


def _reg(name: str | None = None, **kw):
    def deco(fn):
        fn = stub(name, **kw)(fn)
        MEMCG_STUBS[fn.stub_name] = fn
        return fn

    return deco


def make_tree(m, tree: list[tuple[str, int, str | None]]) -> dict[str, Ptr]:
    """The memcgs of a world, by label; the first one is the root."""
    out: dict[str, Ptr] = {}
    by_id: dict[int, Ptr] = {}
    for label, cgid, parent in tree:
        kn = Block(Struct("kernfs_node", False), f"kernfs node of {label}", kind="global")
        kn.data["id"] = cgid
        cgrp = Block(Struct("cgroup", False), f"cgroup {label}", kind="global")
        cgrp.data["kn"] = Ptr(kn)
        block = Block(Struct("mem_cgroup", True), f"memcg {label}", kind="global")
        css = Struct("cgroup_subsys_state", False)
        css["cgroup"] = Ptr(cgrp)
        css["parent"] = out[parent].field("css") if parent is not None else NULL
        block.data["css"] = css
        out[label] = by_id[cgid] = Ptr(block)
    m.kstate["memcg"] = {"by_id": by_id, "removed": {}}
    root = next(iter(out.values()))
    m.globals.data["root_mem_cgroup"] = root
    m.global_types["root_mem_cgroup"] = ("ptr", MEMCG)
    return out


def cgroup_id_of(memcg: Ptr) -> int:
    return memcg.base.data["css"]["cgroup"].base.data["kn"].base.data["id"]


def remove(m, memcg: Ptr) -> None:
    """rmdir: from now on the memcg's id no longer resolves."""
    m.kstate["memcg"]["removed"][cgroup_id_of(memcg)] = True


def _lookup(ctx, cgid: Any) -> Ptr:
    state = ctx.m.kstate.get("memcg")
    if state is None:
        raise NotModelled(ctx.node.first_line() if ctx.node else "a cgroup lookup", ctx.line,
                          "the world has no cgroup tree", ctx.file)
    if not isinstance(cgid, int):
        raise NotModelled(f"cgroup lookup of {ctx.arg_text(0)}", ctx.line, "the id is not a number", ctx.file)
    memcg = state["by_id"].get(cgid)
    if memcg is None or cgid in state["removed"]:
        ctx.log(f"no cgroup with id {cgid}" + (" (it is being removed)" if memcg is not None else ""))
        return Ptr(ERR_BLOCK, (-ERRNO["ENOENT"],))
    return memcg


@_reg()
def mem_cgroup_get_from_ino(ctx, ino):
    return _lookup(ctx, ino)


@_reg()
def cgroup_get_from_id(ctx, cgid):
    memcg = _lookup(ctx, cgid)
    if memcg.base is ERR_BLOCK:
        return memcg
    return memcg.base.data["css"]["cgroup"]


def _memcg_of_cgroup(ctx, cgrp: Any) -> Ptr:
    if not isinstance(cgrp, Ptr) or cgrp.base is None:
        raise NotModelled(ctx.node.first_line() if ctx.node else "css of a cgroup", ctx.line,
                          "not a cgroup of the world", ctx.file)
    for memcg in ctx.m.kstate["memcg"]["by_id"].values():
        if memcg.base.data["css"]["cgroup"] == cgrp:
            return memcg
    raise NotModelled(ctx.node.first_line() if ctx.node else "css of a cgroup", ctx.line,
                      "not a cgroup of the world", ctx.file)


@_reg(raw=True)
def cgroup_get_e_css(ctx, cgrp_node, ss_node):
    cgrp = yield from ctx.m.ev(ctx.th, ctx.fr, cgrp_node)
    return _memcg_of_cgroup(ctx, cgrp).field("css")


MEMCG_STUBS["cgroup_e_css"] = cgroup_get_e_css


@_reg()
def mem_cgroup_from_css(ctx, css):
    if not isinstance(css, Ptr):
        raise NotModelled("mem_cgroup_from_css()", ctx.line, "not a css pointer", ctx.file)
    return container_of(css, "css")


@_reg()
def parent_mem_cgroup(ctx, memcg):
    parent = ctx.m.load(ctx.th, memcg.field("css").field("parent") if isinstance(memcg, Ptr) else NULL,
                        ctx.line, f"{ctx.arg_text(0)}->css.parent")
    return container_of(parent, "css") if parent else NULL


@_reg()
def cgroup_id(ctx, cgrp):
    kn = ctx.m.load(ctx.th, cgrp.field("kn"), ctx.line, f"{ctx.arg_text(0)}->kn")
    return ctx.m.load(ctx.th, kn.field("id"), ctx.line, f"{ctx.arg_text(0)}->kn->id")


@_reg()
def mem_cgroup_is_root(ctx, memcg):
    return int(memcg == ctx.m.globals.data.get("root_mem_cgroup"))


@_reg()
def mem_cgroup_online(ctx, memcg):
    return int(cgroup_id_of(memcg) not in ctx.m.kstate["memcg"]["removed"])


@_reg()
def mem_cgroup_disabled(ctx):
    return 0


@_reg()
def css_tryget(ctx, css):
    return 1


MEMCG_STUBS["css_tryget_online"] = css_tryget


def _put(ctx, *args):
    return None


for _name in ("mem_cgroup_put", "css_put", "css_get", "cgroup_put", "mem_cgroup_get"):
    MEMCG_STUBS[_name] = stub(_name)(_put)
