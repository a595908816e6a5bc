// SPDX-License-Identifier: GPL-2.0
/* Cases for RCU009, written for the rule (not taken from any patch). */

#include <linux/fs.h>
#include <linux/nls.h>
#include <linux/slab.h>
#include <linux/dcache.h>

/* --- qfs: case-insensitive names, hashed with the mount's nls table --- */

struct qfs_sb_info {
	struct nls_table *nls;
	unsigned long flags;
	char *label;
	struct rcu_head rcu;
};

#define QFS_SB(sb) ((struct qfs_sb_info *)(sb)->s_fs_info)
#define QFS_CASEFOLD 1

static int qfs_hash(const struct dentry *dentry, struct qstr *q)
{
	struct nls_table *t = QFS_SB(dentry->d_sb)->nls;
	unsigned long hash = init_name_hash(dentry);
	unsigned int i;

	for (i = 0; i < q->len; i++)
		hash = partial_name_hash(nls_tolower(t, q->name[i]), hash);
	q->hash = end_name_hash(hash);
	return 0;
}

static int qfs_compare(const struct dentry *dentry, unsigned int len, const char *str,
		       const struct qstr *name)
{
	if (!(QFS_SB(dentry->d_sb)->flags & QFS_CASEFOLD))
		return len != name->len || memcmp(str, name->name, len);
	return nls_strnicmp(QFS_SB(dentry->d_sb)->nls, str, name->name, len);
}

static const struct dentry_operations qfs_dentry_ops = {
	.d_hash		= qfs_hash,
	.d_compare	= qfs_compare,
};

static void qfs_put_super(struct super_block *sb)
{
	struct qfs_sb_info *sbi = QFS_SB(sb);

	/* ruleid: RCU009 */
	unload_nls(sbi->nls);
	/* a member no RCU-walk callback reads */
	/* ok: RCU009 */
	kfree(sbi->label);
	/* ruleid: RCU009 */
	kfree(sbi);
	sb->s_fs_info = NULL;
}

static const struct super_operations qfs_sops = {
	.put_super	= qfs_put_super,
};

static int qfs_fill_super(struct super_block *sb, void *data, int silent)
{
	struct qfs_sb_info *sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);

	if (!sbi)
		return -ENOMEM;
	sb->s_fs_info = sbi;
	sbi->nls = load_nls_default();
	if (!sbi->nls) {
		/* the fill_super error path: no walker can have reached the new superblock */
		/* ok: RCU009 */
		kfree(sbi);
		return -EINVAL;
	}
	sb->s_op = &qfs_sops;
	sb->s_d_op = &qfs_dentry_ops;
	return 0;
}

/* --- rfs: ->permission reads the mount options, freed through a helper of ->kill_sb --- */

struct rfs_opts {
	umode_t mode;
};

struct rfs_info {
	struct rfs_opts *opts;
	struct rcu_head rcu;
	int serial;
};

static inline struct rfs_info *rfs_info(struct super_block *sb)
{
	return sb->s_fs_info;
}

static int rfs_permission(struct user_namespace *ns, struct inode *inode, int mask)
{
	if ((mask & MAY_WRITE) && !(rfs_info(inode->i_sb)->opts->mode & 0200))
		return -EACCES;
	return generic_permission(ns, inode, mask);
}

static const struct inode_operations rfs_dir_iops = {
	.permission	= rfs_permission,
};

static void rfs_free_info(struct rfs_info *fsi)
{
	/* ruleid: RCU009 */
	kfree(fsi->opts);
	/* ruleid: RCU009 */
	kfree(fsi);
}

static void rfs_kill_sb(struct super_block *sb)
{
	struct rfs_info *fsi = sb->s_fs_info;

	kill_anon_super(sb);
	rfs_free_info(fsi);
}

static struct file_system_type rfs_type = {
	.name		= "rfs",
	.kill_sb	= rfs_kill_sb,
};

/* --- the right ways: after a grace period, or deferred --- */

static void qfs_free_sbi_rcu(struct rcu_head *head)
{
	struct qfs_sb_info *sbi = container_of(head, struct qfs_sb_info, rcu);

	unload_nls(sbi->nls);
	/* ok: RCU009 */
	kfree(sbi);
}

static void qfs2_kill_sb(struct super_block *sb)
{
	struct qfs_sb_info *sbi = QFS_SB(sb);

	kill_block_super(sb);
	if (sbi)
		call_rcu(&sbi->rcu, qfs_free_sbi_rcu);
}

static void rfs2_kill_sb(struct super_block *sb)
{
	struct rfs_info *fsi = rfs_info(sb);

	kill_anon_super(sb);
	kfree_rcu(fsi->opts, rcu);
	/* ok: RCU009 */
	kfree_rcu(fsi, rcu);
}

static void rfs3_kill_sb(struct super_block *sb)
{
	struct rfs_info *fsi = rfs_info(sb);

	kill_anon_super(sb);
	synchronize_rcu();
	/* ok: RCU009 */
	kfree(fsi);
}

static struct file_system_type qfs2_type = {
	.name		= "qfs2",
	.kill_sb	= qfs2_kill_sb,
};

static struct file_system_type rfs2_type = {
	.name		= "rfs2",
	.kill_sb	= rfs2_kill_sb,
};

static struct file_system_type rfs3_type = {
	.name		= "rfs3",
	.kill_sb	= rfs3_kill_sb,
};
