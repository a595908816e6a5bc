"""The lifetime model's path-walk scenario: the VFS's RCU path walk in a filesystem's callback (CPU0)
against its ->kill_sb/->put_super (CPU1). Filesystems of our own making, in the shapes the kernel
uses: an sb-info accessor in a header of the folder or outside it, callbacks in another file of the
folder, a callback that reads through a helper of a third file, one that leaves RCU mode first."""

from __future__ import annotations

import pytest

from reviewbot import engine, models, rulepack, thread

HEADER = """struct kfs_sb_info { unsigned long flags; struct nls_table *nls; char *prefix; struct rcu_head rcu; };
static inline struct kfs_sb_info *KFS_SB(struct super_block *sb)
{
	return sb->s_fs_info;
}
extern const struct dentry_operations kfs_dentry_operations;
bool kfs_casefold(const struct dentry *dentry);
"""

SUPER = """#include <linux/fs.h>
#include "kfs.h"

static void kfs_kill_sb(struct super_block *sb)
{
	struct kfs_sb_info *sbi = KFS_SB(sb);

	kill_block_super(sb);
	if (sbi) {
		kfree(sbi->prefix);
		FREE;
	}
}

static struct file_system_type kfs_fs_type = {
	.name		= "kfs",
	.kill_sb	= kfs_kill_sb,
};

static int kfs_fill_super(struct super_block *sb, void *data, int silent)
{
	sb->s_d_op = &kfs_dentry_operations;
	return 0;
}
"""

# ->d_hash in namei.c reads the sb info through a helper of misc.c
NAMEI = """#include "kfs.h"
static int kfs_hash(const struct dentry *dentry, struct qstr *q)
{
	return kfs_name_hash(q, kfs_casefold(dentry));
}

const struct dentry_operations kfs_dentry_operations = {
	.d_hash = kfs_hash,
};
"""

MISC = """#include "kfs.h"
bool kfs_casefold(const struct dentry *dentry)
{
	return KFS_SB(dentry->d_sb)->flags & 1;
}
"""

# ->d_revalidate that leaves RCU mode before it reads anything
BAILS = """#include "kfs.h"
static int kfs_revalidate(struct dentry *dentry, unsigned int flags)
{
	if (flags & LOOKUP_RCU)
		return -ECHILD;
	return KFS_SB(dentry->d_sb)->flags != 0;
}

const struct dentry_operations kfs_dentry_operations = {
	.d_revalidate = kfs_revalidate,
};
"""

# ->permission of a filesystem whose accessor lives outside the folder (include/linux/...)
PSUPER = """#include <linux/fs.h>

static void pfs_kill_sb(struct super_block *sb)
{
	struct pfs_info *fsi = pfs_sb_info(sb);

	kill_anon_super(sb);
	kfree(fsi);
}

static struct file_system_type pfs_type = {
	.name		= "pfs",
	.kill_sb	= pfs_kill_sb,
};
"""

PBASE = """#include <linux/fs.h>
static bool pfs_allowed(struct pfs_info *fsi, int mask)
{
	return fsi->hide < 2;
}

static int pfs_permission(struct user_namespace *ns, struct inode *inode, int mask)
{
	struct pfs_info *fsi = pfs_sb_info(inode->i_sb);

	if (!pfs_allowed(fsi, mask))
		return -EPERM;
	return generic_permission(ns, inode, mask);
}

static const struct inode_operations pfs_dir_iops = {
	.permission	= pfs_permission,
};
"""


@pytest.fixture(scope="module")
def lifetime():
    return [m for m in models.load_models() if m.id == "lifetime"]


def folder(tmp_path, files: dict[str, str], name: str = "kfs"):
    where = tmp_path / "fs" / name
    where.mkdir(parents=True)
    for file, text in files.items():
        (where / file).write_text(text)
    return str(tmp_path)


def kfs(tmp_path, free: str, namei: str = NAMEI):
    src = SUPER.replace("FREE", free)
    tree = folder(tmp_path, {"super.c": src, "kfs.h": HEADER, "namei.c": namei, "misc.c": MISC})
    return src, thread.file_patch("fs/kfs/super.c", src), tree


def line_of(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


def test_kill_sb_frees_what_rcu_walk_reads(lifetime, tmp_path):
    src, patch, tree = kfs(tmp_path, "kfree(sbi)")
    r = lifetime[0].run(patch, tree=tree)
    assert [(d.rule, d.line) for d in r.divergences] == [("LIFE001", line_of(src, "kfree(sbi);"))]
    div = r.divergences[0]
    # the reader is named with its file; the walker is inside the filesystem before the unmount
    assert "fs/kfs/misc.c:" in div.message
    steps = list(div.trace)
    assert "RCU path walk" in steps[1] and "kfs_hash() (->d_hash)" in steps[1]
    assert steps.index(next(s for s in steps if s.startswith("CPU1"))) > 1
    assert "use after free of the sb info" in steps[-1] and "fs/kfs/misc.c" in steps[-1]


@pytest.mark.parametrize("free", ["kfree_rcu(sbi, rcu)", "call_rcu(&sbi->rcu, kfs_free_rcu)"])
def test_a_free_after_a_grace_period_is_silent(lifetime, tmp_path, free):
    _src, patch, tree = kfs(tmp_path, free)
    r = lifetime[0].run(patch, tree=tree)
    assert r.applied and r.divergences == []


def test_a_callback_that_leaves_rcu_mode_first_is_silent(lifetime, tmp_path):
    _src, patch, tree = kfs(tmp_path, "kfree(sbi)", BAILS)
    assert lifetime[0].run(patch, tree=tree).divergences == []


def test_without_a_tree_the_folder_is_not_read(lifetime, tmp_path):
    _src, patch, _tree = kfs(tmp_path, "kfree(sbi)")
    r = lifetime[0].run(patch)
    assert r.divergences == []


def test_accessor_outside_the_folder_and_permission_in_rcu_mode(lifetime, tmp_path):
    tree = folder(tmp_path, {"root.c": PSUPER, "base.c": PBASE}, "pfs")
    r = lifetime[0].run(thread.file_patch("fs/pfs/root.c", PSUPER), tree=tree)
    assert [(d.rule, d.line) for d in r.divergences] == [("LIFE001", line_of(PSUPER, "kfree(fsi);"))]
    assert "->permission with MAY_NOT_BLOCK" in r.divergences[0].trace[1]


def test_rcu009_is_confirmed_with_the_trace(tmp_path):
    _src, patch, tree = kfs(tmp_path, "kfree(sbi)")
    rules = [r for r in rulepack.load_rules() if r.id == "RCU009"]
    said = engine.run(thread.single_series((patch,)), rules, tree=tree, models=models.load_models()).findings
    assert [(f.rule, dict(f.extra).get("confirmed_by"), f.confidence) for f in said] == [("RCU009", "LIFE001", "high")]
    assert said[0].trace and "use after free" in said[0].trace[-1]
