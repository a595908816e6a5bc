"""RCU009 with a kernel tree (--tree): dentry operations installed from another file of the folder
are read there, and taken as evidence only when they use the sb info in RCU mode."""

from __future__ import annotations

from reviewbot import engine, rulepack, thread

RULE = [r for r in rulepack.load_rules() if r.id == "RCU009"]

SUPER = """#include <linux/fs.h>
#include "kfs.h"

static void kfs_put_super(struct super_block *sb)
{
	struct kfs_sb_info *sbi = KFS_SB(sb);

	unload_nls(sbi->nls);
	kfree(sbi);
}

static const struct super_operations kfs_sops = {
	.put_super	= kfs_put_super,
};

static int kfs_fill_super(struct super_block *sb, void *data, int silent)
{
	sb->s_op = &kfs_sops;
	sb->s_d_op = &kfs_dentry_operations;
	return 0;
}
"""

HEADER = """struct kfs_sb_info { struct nls_table *nls; };
static inline struct kfs_sb_info *KFS_SB(struct super_block *sb)
{
	return sb->s_fs_info;
}
extern const struct dentry_operations kfs_dentry_operations;
"""

READS = """#include "kfs.h"
static int kfs_hash(const struct dentry *dentry, struct qstr *q)
{
	struct nls_table *t = KFS_SB(dentry->d_sb)->nls;

	q->hash = full_name_hash(dentry, q->name, q->len) ^ t->charset[0];
	return 0;
}

const struct dentry_operations kfs_dentry_operations = {
	.d_hash = kfs_hash,
};
"""

BAILS = """#include "kfs.h"
static int kfs_revalidate(struct dentry *dentry, unsigned int flags)
{
	if (flags & LOOKUP_RCU)
		return -ECHILD;
	return KFS_SB(dentry->d_sb)->nls != NULL;
}

const struct dentry_operations kfs_dentry_operations = {
	.d_revalidate = kfs_revalidate,
};
"""


def review(tmp_path, namei: str, tree: bool = True):
    folder = tmp_path / "fs" / "kfs"
    folder.mkdir(parents=True)
    (folder / "super.c").write_text(SUPER)
    (folder / "kfs.h").write_text(HEADER)
    (folder / "namei.c").write_text(namei)
    patch = thread.file_patch("fs/kfs/super.c", SUPER)
    return engine.run_patch(patch, RULE, tree=str(tmp_path) if tree else None)


def test_callbacks_in_the_folder_that_read_the_sb_info(tmp_path):
    found = review(tmp_path, READS)
    assert [f.line for f in found] == [8, 9]
    assert "kfs_hash() (->d_hash, in namei.c)" in found[1].message
    assert found[1].related == (19,)


def test_callbacks_that_bail_out_of_rcu_mode_first(tmp_path):
    assert review(tmp_path, BAILS) == []


def test_without_a_tree_installed_operations_are_not_evidence(tmp_path):
    assert review(tmp_path, READS, tree=False) == []
