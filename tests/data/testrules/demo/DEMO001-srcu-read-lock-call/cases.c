int f(void)
{
	/* ruleid: DEMO001 */
	int i = srcu_read_lock(&s);
	/* ok: DEMO001 */
	srcu_read_unlock(&s, i);
	/* ruleid: DEMO001 */
	i = srcu_read_lock(&t);
	/* ok: DEMO001 */
	return 0;
}
