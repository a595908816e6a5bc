"""The commit-message pack beyond its cases.c: CMSG001 on v1 01/14 with its fallback written in
other forms, and both rules' readers of kernel-doc and commit messages on wording taken from real
patches (the cgroups list; see the rules' READMEs)."""

from __future__ import annotations

import dataclasses

import pytest

from reviewbot import engine, rulepack, thread
from reviewbot.diff import parse_changed_files
from tests.helpers import PATCH_01, v1_series

RULES = {r.id: r for r in rulepack.load_rules() if r.pack == "commitmsg"}


def patch_01():
    return next(p for p in v1_series().patches if p.msgid == PATCH_01)


def rewritten(patch, *pairs):
    """The patch with lines replaced one for one (the hunk headers still hold)."""
    body = patch.body
    for old, new in pairs:
        assert body.count(old) == 1, old
        assert old.count("\n") == new.count("\n")
        body = body.replace(old, new)
    return dataclasses.replace(patch, body=body, changed_files=parse_changed_files(body))


def run(patch, rule_id):
    return [f for f in engine.run_patch(patch, [RULES[rule_id]]) if f.rule == rule_id]


V1_FALLBACK = ("+\t\toc->bpf_policy_name = ops->name[0] ? &ops->name[0] :\n"
               "+\t\t\t\"bpf_defined_policy\";\n")


@pytest.mark.parametrize("pairs", [
    # through a macro named above
    [("+\n+DEFINE_STATIC_SRCU(bpf_oom_srcu);", "+#define BPF_OOM_UNNAMED \"bpf_defined_policy\"\n"
      "+DEFINE_STATIC_SRCU(bpf_oom_srcu);"),
     (V1_FALLBACK, "+\t\toc->bpf_policy_name = ops->name[0] ? &ops->name[0] :\n+\t\t\tBPF_OOM_UNNAMED;\n")],
    # the GNU form on the pointer
    [(V1_FALLBACK, "+\t\toc->bpf_policy_name = ops->name[0] ? ops->name :\n+\t\t\t\"bpf_defined_policy\";\n")],
    # an if/else assignment
    [(V1_FALLBACK, "+\t\tif (ops->name[0]) oc->bpf_policy_name = &ops->name[0];\n"
                   "+\t\telse oc->bpf_policy_name = \"bpf_defined_policy\";\n")],
])
def test_the_v1_fallback_in_other_forms_is_reported_where_it_is(pairs):
    (f,) = run(rewritten(patch_01(), *pairs), "CMSG001")
    assert (f.file, f.line) == ("mm/bpf_oom.c", 37)
    assert f.message.startswith("The commit message says: '\"default\" is printed if bpf is not used or policy "
                                "name is not specified.' But when ops->name is empty, this falls back to "
                                "\"bpf_defined_policy\", not \"default\".")


def test_the_v1_fallback_agreeing_in_another_form_is_not_reported():
    p = rewritten(patch_01(), ("+\n+DEFINE_STATIC_SRCU(bpf_oom_srcu);",
                               "+#define BPF_OOM_UNNAMED \"default\"\n+DEFINE_STATIC_SRCU(bpf_oom_srcu);"),
                  (V1_FALLBACK, "+\t\toc->bpf_policy_name = ops->name[0] ? &ops->name[0] :\n+\t\t\tBPF_OOM_UNNAMED;\n"))
    assert run(p, "CMSG001") == []


def _docs(code: str):
    p = thread.file_patch("lib/x.c", code)
    ctx = engine.FileContext(p, p.changed_files[0], None, {}, None)
    return ctx.facts.kernel_docs


REAL_DOCS = '''\
/**
 * housekeeping_register_cbs - register callbacks
 * @type: housekeeping type
 * @cbs: the callbacks
 *
 * Return: 0 on success, -EINVAL if @type or @cbs is invalid,
 * -ENOSPC if the per-type table is full.
 */
int housekeeping_register_cbs(int type, void *cbs)
{
	return 0;
}

/**
 * swap_duplicate - increase the swap count of a swap entry
 * @entry: the swap entry
 *
 * Return: -ENONENT, if we try to duplicate a non-existent swap entry.
 */
int swap_duplicate(int entry)
{
	return 0;
}

/**
 * swap_alloc - allocate a swap slot
 * @nr: how many
 *
 * Writeback will be aborted with -EAGAIN if @nr is still zero.
 *
 * -ENOMEM / -EBUSY: Order is too large or in conflict with sub slot,
 * the caller should retry.
 *
 * Returns the number of pages written back, or -ENOENT if @memcg is a
 * zombie or has writeback disabled.
 */
int swap_alloc(int nr)
{
	return 0;
}
'''


def test_cmsg002_reads_real_return_sections():
    module = RULES["CMSG002"].module
    got = {d.target: [(c.errno, c.condition, c.negated) for c in module.doc_claims(d, "lib/x.c")]
           for d in _docs(REAL_DOCS)}
    assert got == {
        "housekeeping_register_cbs": [("EINVAL", "@type or @cbs is invalid", False),
                                      ("ENOSPC", "the per-type table is full", False)],
        "swap_duplicate": [("ENONENT", "we try to duplicate a non-existent swap entry", True)],
        # prose about writeback and a list item naming two errnos are not promises it can check
        "swap_alloc": [("ENOENT", "@memcg is a zombie or has writeback disabled", False)],
    }


def test_cmsg002_reads_commit_messages_for_changed_functions():
    module = RULES["CMSG002"].module
    message = ("dmem: report a full pool\n\nAfter this fix, setting a max value below the current value returns "
               "-EBUSY. page_counter_set_max may return -EBUSY in case the current usage is above the new\nmax. "
               "The interface returns -EAGAIN if no pages were written back.\n")
    got = [(c.function, c.errno, c.condition) for c in module.message_claims(message, {"page_counter_set_max"})]
    assert got == [("page_counter_set_max", "EBUSY", "the current usage is above the new max")]


def test_cmsg001_reads_kernel_doc_claims_with_their_subject():
    module = RULES["CMSG001"].module
    code = '''\
/**
 * struct foo_ops - ops
 * @name: the policy name; "default" when not set
 */
struct foo_ops {
	char name[16];
};

/**
 * foo_label() - the label of a device
 * @dev: the device
 *
 * Return: the label, or "none" if the device has no label.
 */
const char *foo_label(struct foo_dev *dev)
{
	return dev->label;
}
'''
    got = {d.target: [(c.literal, c.kind, c.function, sorted(c.words)) for c in module.doc_claims(d, "lib/x.c")]
           for d in _docs(code)}
    assert got == {"foo_ops": [("default", "absent", None, ["name"])],
                   "foo_label": [("none", "absent", "foo_label", ["device", "label"])]}


# --- CMSG002 on kernel code ---------------------------------------------------------------------

# drivers/base/power/clock_ops.c of Linux 6.1, as is: its kernel-doc promises -EINVAL in atomic
# context, and the code returns -EPERM there (the one CMSG002 finding of a 4.6M-line sweep of
# kernel/, fs/, block/, lib/, net/, security/ and parts of drivers/).
PM_CLK_OP_LOCK = '''\
/**
 * pm_clk_op_lock - ensure exclusive access for performing clock operations.
 * @psd: pm_subsys_data instance corresponding to the PM clock entry list
 *	 and clk_op_might_sleep count being used.
 * @flags: stored irq flags.
 * @fn: string for the caller function's name.
 *
 * This is used by pm_clk_suspend() and pm_clk_resume() to guard
 * against concurrent modifications to the clock entry list and the
 * clock_op_might_sleep count. If clock_op_might_sleep is != 0 then
 * only the mutex can be locked and those functions can only be used in
 * non atomic context. If clock_op_might_sleep == 0 then these functions
 * may be used in any context and only the spinlock can be locked.
 * Returns -EINVAL if called in atomic context when clock ops might sleep.
 */
static int pm_clk_op_lock(struct pm_subsys_data *psd, unsigned long *flags,
			  const char *fn)
	/* sparse annotations don't work here as exit state isn't static */
{
	bool atomic_context = in_atomic() || irqs_disabled();

try_again:
	spin_lock_irqsave(&psd->lock, *flags);
	if (!psd->clock_op_might_sleep) {
		/* the __release is there to work around sparse limitations */
		__release(&psd->lock);
		return 0;
	}

	/* bail out if in atomic context */
	if (atomic_context) {
		pr_err("%s: atomic context with clock_ops_might_sleep = %d",
		       fn, psd->clock_op_might_sleep);
		spin_unlock_irqrestore(&psd->lock, *flags);
		might_sleep();
		return -EPERM;
	}

	/* we must switch to the mutex */
	spin_unlock_irqrestore(&psd->lock, *flags);
	mutex_lock(&psd->clock_mutex);
	return 0;
}
'''


def test_cmsg002_on_pm_clk_op_lock():
    (f,) = run(thread.file_patch("drivers/base/power/clock_ops.c", PM_CLK_OP_LOCK), "CMSG002")
    assert f.line == PM_CLK_OP_LOCK.splitlines().index("\tif (atomic_context) {") + 1
    assert f.message == ("The kernel-doc of pm_clk_op_lock() says: 'Returns -EINVAL if called in atomic context "
                         "when clock ops might sleep.' But pm_clk_op_lock() never returns -EINVAL: when "
                         "atomic_context, it returns -EPERM here. Which one is intended?")


# The other findings of the sweeps before the rule stopped counting these words: the subsystem prefix
# in the function's name (iucv_register(), ice_remove_mac(), key_create_or_update()), and a noun
# shared alone (__i915_gem_object_migrate(): "-ENXIO on lack of region space" against
# `if (GEM_WARN_ON(obj->mm.region != mr)) return -EINVAL;`).
PREFIX_ONLY = '''\
/**
 * iucv_register() - register a handler
 * @handler: the handler
 *
 * Returns 0 on success, -EIO if IUCV_DECLARE_BUFFER failed on all cpus.
 */
int iucv_register(struct iucv_handler *handler)
{
	if (!iucv_available)
		return -ENOSYS;
	return iucv_enable();
}
'''


def test_cmsg002_does_not_match_conditions_on_the_subsystem_prefix():
    assert run(thread.file_patch("net/iucv/iucv.c", PREFIX_ONLY), "CMSG002") == []


NOUN_ONLY = """\
/**
 * foo_migrate() - move an object
 * @obj: the object
 * @mr: the region
 *
 * Return: 0 on success, -ENXIO on lack of region space.
 */
int foo_migrate(struct foo_obj *obj, struct foo_region *mr)
{
	if (WARN_ON(obj->region != mr))
		return -EINVAL;
	return obj->ops->migrate(obj, mr);
}
"""


def test_cmsg002_does_not_match_conditions_on_a_shared_noun():
    assert run(thread.file_patch("drivers/foo/obj.c", NOUN_ONLY), "CMSG002") == []


def test_a_file_no_rule_has_business_with_is_not_parsed(monkeypatch):
    """The commit-message rules read a file only when it can hold what they compare (kernel-doc,
    an errno, a function the message makes a claim about): on a list most changed files hold none,
    and parsing them was most of a replay's parse time."""
    from reviewbot import engine, rulepack, thread
    from reviewbot.csource import parse

    calls = []
    real = parse._parse_bytes
    monkeypatch.setattr(parse, "_parse_bytes", lambda *a, **k: calls.append(a) or real(*a, **k))
    before = "static int limit;\n\nint get_limit(void)\n{\n\treturn limit;\n}\n"
    after = before.replace("return limit;", "return READ_ONCE(limit);")
    patch = thread.change_patch("mm/limit.c", before, after)
    message = "mm: read the limit once\n\nThe limit may change under us; it returns -EINVAL never.\n"
    patch = dataclasses.replace(patch, body=message + "---\n" + patch.body.split("\n---\n", 1)[1])
    assert engine.run_patch(patch, rulepack.load_rules()) == []
    assert calls == []
    # the same change with a kernel-doc comment in the hunk is parsed (kernel-doc rules need it)
    before = "static int limit;\n\n/**\n * get_limit() - the limit\n */\nint get_limit(void)\n{\n\treturn limit;\n}\n"
    after = before.replace("return limit;", "return READ_ONCE(limit);")
    patch = thread.change_patch("mm/limit.c", before, after, context=20)
    engine.run_patch(patch, rulepack.load_rules())
    assert calls
