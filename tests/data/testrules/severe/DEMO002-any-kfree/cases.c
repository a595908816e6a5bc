void f(void *p)
{
	/* ruleid: DEMO002 */
	kfree(p);
	/* ok: DEMO002 */
	vfree(p);
	/* ruleid: DEMO002 */
	kfree(p + 1);
	/* ok: DEMO002 */
	return;
}
