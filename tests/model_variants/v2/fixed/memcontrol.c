static void mem_cgroup_css_offline(struct cgroup_subsys_state *css)
{
	struct mem_cgroup *memcg = mem_cgroup_from_css(css);

	bpf_oom_memcg_offline(memcg);

	memcg_offline_kmem(memcg);
	reparent_deferred_split_queue(memcg);
	/*
	 * The reparenting of objcg must be after the reparenting of the
	 * list_lru and deferred_split_queue above, which ensures that they will
	 * not mistakenly get the parent list_lru and deferred_split_queue.
	 */
	memcg_reparent_objcgs(memcg);

	zswap_memcg_offline_cleanup(memcg);

	memcg_wb_domain_offline(memcg);
	lru_gen_offline_memcg(memcg);

	drain_all_stock(memcg);

	mem_cgroup_id_put(memcg);
}
