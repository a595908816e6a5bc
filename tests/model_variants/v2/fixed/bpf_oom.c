// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * BPF-driven OOM killer customization
 *
 * Made up by reviewbot's tests from the description of the series' v2
 * design (corrected: it matches its own documentation); never sent.
 */

#include <linux/bpf.h>
#include <linux/oom.h>
#include <linux/bpf_oom.h>
#include <linux/srcu.h>
#include <linux/cgroup.h>
#include <linux/memcontrol.h>

DEFINE_STATIC_SRCU(bpf_oom_srcu);
static struct bpf_oom_ops *system_bpf_oom;

static int bpf_ops_handle_oom(struct bpf_oom_ops *bpf_oom_ops,
			      struct mem_cgroup *memcg,
			      struct oom_control *oc)
{
	struct bpf_oom_ctx exec_ctx;
	int ret;

	if (memcg)
		exec_ctx.cgroup_id = cgroup_id(memcg->css.cgroup);
	else
		exec_ctx.cgroup_id = 0;

	oc->bpf_policy_name = bpf_oom_ops->name[0] ? &bpf_oom_ops->name[0] : NULL;
	oc->bpf_memory_freed = false;
	ret = bpf_oom_ops->handle_out_of_memory(&exec_ctx, oc);
	oc->bpf_policy_name = NULL;

	return ret;
}

bool bpf_handle_oom(struct oom_control *oc)
{
	struct bpf_oom_ops *bpf_oom_ops;
	struct mem_cgroup *memcg;
	bool handled = false;
	int idx, ret;

	/* All bpf_oom_ops structures are protected using bpf_oom_srcu */
	idx = srcu_read_lock(&bpf_oom_srcu);

	/* Find bpf_oom_ops traversing the cgroup tree upwards */
	for (memcg = oc->memcg; memcg; memcg = parent_mem_cgroup(memcg)) {
		bpf_oom_ops = READ_ONCE(memcg->bpf_oom);
		if (!bpf_oom_ops)
			continue;

		ret = bpf_ops_handle_oom(bpf_oom_ops, memcg, oc);
		if (ret && oc->bpf_memory_freed) {
			handled = true;
			goto exit;
		}
	}

	/* Then the system-wide handler */
	bpf_oom_ops = READ_ONCE(system_bpf_oom);
	if (!bpf_oom_ops)
		goto exit;

	ret = bpf_ops_handle_oom(bpf_oom_ops, NULL, oc);
	if (ret && oc->bpf_memory_freed)
		handled = true;
exit:
	srcu_read_unlock(&bpf_oom_srcu, idx);
	return handled;
}

void bpf_oom_memcg_offline(struct mem_cgroup *memcg)
{
	struct bpf_oom_ops *bpf_oom_ops;
	struct bpf_oom_ctx exec_ctx;
	u64 cgrp_id;
	int idx;

	/* All bpf_oom_ops structures are protected using bpf_oom_srcu */
	idx = srcu_read_lock(&bpf_oom_srcu);

	bpf_oom_ops = xchg(&memcg->bpf_oom, NULL);
	if (!bpf_oom_ops)
		goto exit;

	if (bpf_oom_ops->handle_cgroup_offline) {
		cgrp_id = cgroup_id(memcg->css.cgroup);
		exec_ctx.cgroup_id = cgrp_id;
		bpf_oom_ops->handle_cgroup_offline(&exec_ctx, cgrp_id);
	}
exit:
	srcu_read_unlock(&bpf_oom_srcu, idx);
}

static int bpf_oom_ops__handle_out_of_memory(struct bpf_oom_ctx *exec_ctx,
					     struct oom_control *oc)
{
	return 0;
}

static void bpf_oom_ops__handle_cgroup_offline(struct bpf_oom_ctx *exec_ctx,
					       u64 cgroup_id)
{
}

static struct bpf_oom_ops __bpf_oom_ops = {
	.handle_out_of_memory = bpf_oom_ops__handle_out_of_memory,
	.handle_cgroup_offline = bpf_oom_ops__handle_cgroup_offline,
};

static const struct bpf_func_proto *
bpf_oom_func_proto(enum bpf_func_id func_id, const struct bpf_prog *prog)
{
	return tracing_prog_func_proto(func_id, prog);
}

static bool bpf_oom_ops_is_valid_access(int off, int size,
					enum bpf_access_type type,
					const struct bpf_prog *prog,
					struct bpf_insn_access_aux *info)
{
	return bpf_tracing_btf_ctx_access(off, size, type, prog, info);
}

static const struct bpf_verifier_ops bpf_oom_verifier_ops = {
	.get_func_proto = bpf_oom_func_proto,
	.is_valid_access = bpf_oom_ops_is_valid_access,
};

static int bpf_oom_ops_reg(void *kdata, struct bpf_link *link)
{
	struct bpf_struct_ops_link *ops_link = container_of(link, struct bpf_struct_ops_link, link);
	struct bpf_oom_ops **bpf_oom_ops_ptr;
	struct bpf_oom_ops *bpf_oom_ops = kdata;
	struct mem_cgroup *memcg = NULL;

	if (ops_link->cgroup_id) {
		/* Attach to a memory cgroup */
		memcg = mem_cgroup_get_from_ino(ops_link->cgroup_id);
		if (IS_ERR(memcg))
			return PTR_ERR(memcg);
		bpf_oom_ops_ptr = &memcg->bpf_oom;
	} else {
		/* System-wide OOM handler */
		bpf_oom_ops_ptr = &system_bpf_oom;
	}

	/* Another struct ops attached? */
	if (cmpxchg(bpf_oom_ops_ptr, NULL, bpf_oom_ops)) {
		mem_cgroup_put(memcg);
		return -EBUSY;
	}

	/* The memcg reference is kept until unreg */
	bpf_oom_ops->memcg = memcg;
	return 0;
}

static void bpf_oom_ops_unreg(void *kdata, struct bpf_link *link)
{
	struct bpf_oom_ops *bpf_oom_ops = kdata;
	struct mem_cgroup *memcg = bpf_oom_ops->memcg;
	struct bpf_oom_ops **bpf_oom_ops_ptr;

	if (memcg)
		bpf_oom_ops_ptr = &memcg->bpf_oom;
	else
		bpf_oom_ops_ptr = &system_bpf_oom;

	/* Detach, unless the memcg went offline and took it already */
	cmpxchg(bpf_oom_ops_ptr, bpf_oom_ops, NULL);

	/* Wait for the OOM handlers and offline callbacks using it */
	synchronize_srcu(&bpf_oom_srcu);

	bpf_oom_ops->memcg = NULL;
	mem_cgroup_put(memcg);
}

static int bpf_oom_ops_init_member(const struct btf_type *t,
				   const struct btf_member *member,
				   void *kdata, const void *udata)
{
	const struct bpf_oom_ops *uops = (const struct bpf_oom_ops *)udata;
	struct bpf_oom_ops *ops = (struct bpf_oom_ops *)kdata;
	u32 moff = __btf_member_bit_offset(t, member) / 8;

	switch (moff) {
	case offsetof(struct bpf_oom_ops, name):
		if (strscpy_pad(ops->name, uops->name, sizeof(ops->name)) < 0)
			return -E2BIG;
		return 1;
	}
	return 0;
}

static int bpf_oom_ops_init(struct btf *btf)
{
	return 0;
}

static struct bpf_struct_ops bpf_oom_bpf_ops = {
	.verifier_ops = &bpf_oom_verifier_ops,
	.reg = bpf_oom_ops_reg,
	.unreg = bpf_oom_ops_unreg,
	.init_member = bpf_oom_ops_init_member,
	.init = bpf_oom_ops_init,
	.name = "bpf_oom_ops",
	.owner = THIS_MODULE,
	.cfi_stubs = &__bpf_oom_ops
};

static int __init bpf_oom_struct_ops_init(void)
{
	return register_bpf_struct_ops(&bpf_oom_bpf_ops, bpf_oom_ops);
}
late_initcall(bpf_oom_struct_ops_init);
