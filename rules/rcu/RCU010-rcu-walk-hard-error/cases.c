// SPDX-License-Identifier: GPL-2.0
/* Cases for RCU010, written for the rule (not taken from any patch). */

#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/buffer_head.h>
#include <linux/pagemap.h>
#include <linux/slab.h>

struct qfs_inode {
	struct mutex lock;
	struct inode vfs;
	unsigned long gen;
	char *cached_link;
};

#define QFS_I(i) container_of(i, struct qfs_inode, vfs)

int qfs_probe_cached(struct inode *inode);
int qfs_check_access(struct inode *inode, int mask);
int qfs_access_rcu(struct inode *inode, int mask);
int qfs_validate(struct inode *inode);
struct buffer_head *qfs_block_nowait(struct inode *inode, sector_t n);

/* A helper that blocks, not told the mode. */
static int qfs_refresh(struct dentry *parent)
{
	struct qfs_inode *qi = QFS_I(d_inode(parent));

	mutex_lock(&qi->lock);
	qi->gen++;
	mutex_unlock(&qi->lock);
	return 1;
}

/* (b) the page found in RCU mode is kept when the walk is sent back to ref-walk. */
static const char *qfs_get_link(struct dentry *dentry, struct inode *inode,
				struct delayed_call *done)
{
	struct page *page;

	if (!dentry) {
		page = find_get_page(inode->i_mapping, 0);
		if (!page)
			return ERR_PTR(-ECHILD);
		if (!PageUptodate(page))
			/* ruleid: RCU010 */
			return ERR_PTR(-ECHILD);
	} else {
		page = read_mapping_page(inode->i_mapping, 0, NULL);
		if (IS_ERR(page))
			return ERR_CAST(page);
	}
	set_delayed_call(done, page_put_link, page);
	return page_address(page);
}

/* The same, releasing the page first. */
static const char *qfs_get_link_fixed(struct dentry *dentry, struct inode *inode,
				      struct delayed_call *done)
{
	struct page *page;

	if (!dentry) {
		page = find_get_page(inode->i_mapping, 0);
		if (!page)
			return ERR_PTR(-ECHILD);
		if (!PageUptodate(page)) {
			put_page(page);
			/* ok: RCU010 */
			return ERR_PTR(-ECHILD);
		}
	} else {
		page = read_mapping_page(inode->i_mapping, 0, NULL);
		if (IS_ERR(page))
			return ERR_CAST(page);
	}
	set_delayed_call(done, page_put_link, page);
	return page_address(page);
}

/* (a) and (b): a block read without blocking; its error goes back as is. */
static const char *qfs_fast_get_link(struct dentry *dentry, struct inode *inode,
				     struct delayed_call *done)
{
	struct buffer_head *bh;

	if (dentry)
		return page_get_link(dentry, inode, done);
	bh = qfs_block_nowait(inode, 0);
	if (IS_ERR(bh))
		/* ruleid: RCU010 */
		return ERR_CAST(bh);
	if (!bh)
		/* ok: RCU010 */
		return ERR_PTR(-ECHILD);
	if (!buffer_uptodate(bh)) {
		brelse(bh);
		/* ok: RCU010 */
		return ERR_PTR(-ECHILD);
	}
	set_delayed_call(done, (void (*)(void *))brelse, bh);
	return bh->b_data;
}

/* (c) an allocation that may sleep in RCU mode. */
static const char *qfs_copy_link(struct dentry *dentry, struct inode *inode,
				 struct delayed_call *done)
{
	char *buf;

	if (!dentry) {
		/* ruleid: RCU010 */
		buf = kmalloc(PATH_MAX, GFP_KERNEL);
		if (!buf)
			return ERR_PTR(-ECHILD);
	} else {
		buf = kmalloc(PATH_MAX, GFP_KERNEL);
		if (!buf)
			return ERR_PTR(-ENOMEM);
	}
	set_delayed_call(done, kfree_link, buf);
	return buf;
}

/* (a) an int error from an RCU-only probe returned as is from ->d_revalidate. */
static int qfs_d_revalidate(struct dentry *dentry, unsigned int flags)
{
	int err;

	if (flags & LOOKUP_RCU) {
		err = qfs_probe_cached(d_inode_rcu(dentry));
		if (err)
			/* ruleid: RCU010 */
			return err;
		return 1;
	}
	return qfs_refresh(dentry);
}

/* (c) the RCU path goes on into a helper that takes a mutex. */
static int qfs_d_revalidate_parent(struct dentry *dentry, unsigned int flags)
{
	struct dentry *parent;
	int ret;

	if (flags & LOOKUP_RCU)
		parent = READ_ONCE(dentry->d_parent);
	else
		parent = dget_parent(dentry);
	/* ruleid: RCU010 */
	ret = qfs_refresh(parent);
	if (!(flags & LOOKUP_RCU))
		dput(parent);
	return ret;
}

/* Fine: RCU mode bails out before anything blocks. */
static int qfs_d_revalidate_safe(struct dentry *dentry, unsigned int flags)
{
	int err;

	/* a check made in both modes, before the mode test: its error is the same either way */
	err = qfs_validate(d_inode(dentry));
	if (err)
		/* ok: RCU010 */
		return err;
	if (flags & LOOKUP_RCU)
		return -ECHILD;
	/* ok: RCU010 */
	return qfs_refresh(dentry);
}

/* (c) through a local that holds the mode. */
static int qfs_permission(struct user_namespace *ns, struct inode *inode, int mask)
{
	bool rcu = mask & MAY_NOT_BLOCK;
	struct qfs_inode *qi = QFS_I(inode);

	if (rcu) {
		/* ruleid: RCU010 */
		mutex_lock(&qi->lock);
		qi->gen++;
		mutex_unlock(&qi->lock);
	}
	return generic_permission(ns, inode, mask);
}

/* Fine: the callees are told the mode, or are the RCU variant. */
static int qfs_permission_told(struct user_namespace *ns, struct inode *inode, int mask)
{
	int ret;

	if (mask & MAY_NOT_BLOCK) {
		ret = qfs_access_rcu(inode, mask & ~MAY_NOT_BLOCK);
		if (ret)
			/* ok: RCU010 */
			return ret;
		ret = qfs_check_access(inode, mask);
		if (ret)
			/* ok: RCU010 */
			return ret;
		/* ok: RCU010 */
		qfs_inode_touch(kmalloc(16, GFP_ATOMIC));
		return 0;
	}
	mutex_lock(&QFS_I(inode)->lock);
	ret = qfs_check_access(inode, mask);
	mutex_unlock(&QFS_I(inode)->lock);
	return ret;
}
