"""The kernel mask rewrites idioms in place: same length, same lines, plain C to tree-sitter."""

from hypothesis import given, settings
from hypothesis import strategies as st

from reviewbot.csource.mask import mask, mask_source

KERNEL_TOKENS = [
    "list_for_each_entry(", "list_for_each_entry_srcu(", "hlist_for_each_entry_rcu(", "for_each_cpu(",
    "scoped_guard(", "__rcu", "__user", "__must_hold(", "__acquires(", "__attribute__((", "__init",
    "DEFINE_PER_CPU(", "DEFINE_SPINLOCK(", "LIST_HEAD(", "BPF_CALL_2(", "SYSCALL_DEFINE0(",
    "EXPORT_SYMBOL_GPL(", "#if 0\n", "#ifdef CONFIG_X\n", "#else\n", "#endif\n", "#elif X\n",
    "#define X(a) \\\n", "/*", "*/", "//", '"', "'", "\\", "(", ")", "{", "}", ";", ",", "\n", " ",
    "struct foo", "unsigned long", "int", "*", "container_of(", "offsetof(", "BTF_ID(",
    "static ", "é", "\u00e9\u4e2d", "\x00", "\t", "x", "0",
]

kernelish = st.lists(st.sampled_from(KERNEL_TOKENS), max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400), kernelish.map(lambda s: s.encode("utf-8"))))
def test_mask_keeps_length_and_newlines(source):
    masked = mask(source)
    assert len(masked) == len(source)
    assert [i for i, b in enumerate(masked) if b == 10] == [i for i, b in enumerate(source) if b == 10]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_mask_keeps_length_on_any_utf8(text):
    source = text.encode("utf-8", "surrogatepass")
    assert len(mask(source)) == len(source)


@settings(max_examples=200, deadline=None)
@given(kernelish)
def test_mask_only_changes_bytes_to_spaces_or_ascii(text):
    source = text.encode("utf-8")
    masked = mask(source)
    for before, after in zip(source, masked):
        # a non-ASCII byte is either kept or blanked, never turned into another character
        if before >= 0x80:
            assert after in (before, 0x20)


def test_iterator_name_becomes_while_of_same_length():
    src = b"\tlist_for_each_entry_srcu(pos, &head, list, false) {\n"
    out = mask(src)
    assert out == b"\twhile                   (pos, &head, list, false) {\n"


def test_iterator_called_as_function_is_left_alone():
    src = b"\tn = for_each_thing(a, b);\n\tfoo(for_each_x(a));\n"
    assert mask(src) == src


def test_annotations_are_blanked_with_their_arguments():
    src = b"void f(int __user *p) __must_hold(&l->lock)\n{\n}\n"
    assert mask(src) == b"void f(int        *p)                      \n{\n}\n"


def test_comments_blank_but_reported():
    src = b"int a; /* x */\n// y\nint b;\n"
    result = mask_source(src)
    assert result.text == b"int a;        \n    \nint b;\n"
    assert [src[s:e] for s, e in result.comments] == [b"/* x */", b"// y"]


def test_strings_are_kept_and_their_contents_do_not_match():
    src = b'\tpr_info("list_for_each_entry(a) { #if 0");\n'
    assert mask(src) == src


def test_self_contained_ifdef_branches_are_all_kept():
    src = b"#ifdef A\nint a;\n#else\nint b;\n#endif\nint c;\n"
    assert mask(src) == b"        \nint a;\n     \nint b;\n      \nint c;\n"


def test_branches_that_open_braces_keep_only_the_first():
    src = b"#ifdef A\n\tif (a) {\n#else\n\tif (b) {\n#endif\n\t}\n"
    assert mask(src) == b"        \n\tif (a) {\n     \n         \n      \n\t}\n"


def test_nested_chains_in_a_dropped_branch_are_dropped():
    src = b"#if A\n{\n#else\n#ifdef B\nint b;\n#endif\n{\n#endif\n}\n"
    out = mask(src)
    assert b"int b" not in out and out.count(b"{") == 1


def test_if_zero_keeps_the_else_branch():
    src = b"#if 0\nint a;\n#else\nint b;\n#endif\n"
    assert mask(src) == b"     \n      \n     \nint b;\n      \n"


def test_define_per_cpu_keeps_the_name():
    src = b"static DEFINE_PER_CPU(struct list_head, lists);\n"
    assert mask(src) == b"static DEFINE_PER_CPU(                  lists);\n"


def test_bpf_call_becomes_a_function_header():
    src = b"BPF_CALL_2(bpf_x, struct map *, map, u64, flags)\n{\n"
    assert mask(src) == b"int        bpf_x( struct map *  map, u64  flags)\n{\n"


def test_type_arguments_become_identifiers():
    src = b"\tp = container_of(x, struct foo, node);\n"
    assert mask(src) == b"\tp = container_of(x, struct_foo, node);\n"


def test_casts_are_not_type_arguments():
    src = b"\tp = (struct foo *)x;\n\tn = sizeof(struct foo);\n"
    assert mask(src) == src


def test_bare_macro_lines_are_blanked():
    src = b"BTF_SET_START(ids)\nBTF_ID(func, f)\nBTF_SET_END(ids)\n\nint x;\n"
    assert mask(src) == b"                  \n               \n                \n\nint x;\n"


def test_function_header_line_is_not_a_bare_macro():
    src = b"static int\nfoo(int a)\n{\n\treturn a;\n}\n"
    assert mask(src) == src


def test_nul_and_invalid_utf8_survive():
    src = b"int a\x00b;\xff\xfe /* \xc3 */\n"
    assert len(mask(src)) == len(src)


# --- idioms found beyond kernel/bpf and mm (reviewbot/csource/idioms.py and friends) ---------------
# Each snippet is written for its idiom; the parse of the masked text must have no ERROR or
# MISSING node, and the functions and statements must come out as the kernel means them.

from reviewbot.csource import parse_c, walk  # noqa: E402


def clean(source: bytes):
    """Parse kernel-aware; assert same length and lines and no error; return the unit."""
    masked = mask(source)
    assert len(masked) == len(source) and masked.count(b"\n") == source.count(b"\n")
    unit = parse_c(source)
    assert unit.error_lines == frozenset(), unit.masked.decode()
    return unit


def names(unit) -> list[str]:
    return [unit.function_name(f) for f in unit.functions()]


def node_types(unit) -> list[str]:
    return [n.type for n in walk(unit.root)]


def test_do_each_and_while_each_make_a_do_while():
    unit = clean(b"void wake_all(struct task_struct *p)\n{\n\tstruct task_struct *t = p;\n\n"
                 b"\tdo {\n\t\twake_up(t);\n\t} while_each_thread(p, t);\n"
                 b"\tdo_each_pid_task(pid, PIDTYPE_PGID, t) {\n\t\tkill(t);\n"
                 b"\t} while_each_pid_task(pid, PIDTYPE_PGID, t);\n"
                 b"\tdo_each_subsys_mask(ss, i, mask) {\n\t\tss->fork(t);\n\t} while_each_subsys_mask();\n}\n")
    assert names(unit) == ["wake_all"] and node_types(unit).count("do_statement") == 3
    assert mask(b"\t} while_each_subsys_mask();\n") == b"\t} while(1)                ;\n"


def test_declaration_macro_after_a_define_line():
    unit = clean(b"#define BATCH 32\nstatic DEFINE_PER_CPU(struct list_head, flush_list);\n"
                 b"#undef X\nstatic DEFINE_HASHTABLE(table, 4);\n")
    assert b"DEFINE_PER_CPU(                  flush_list)" in unit.masked


def test_string_macros_next_to_literals_are_literals():
    unit = clean(b'void f(int x)\n{\n\tprintk(KERN_ERR PFX "no %d\\n", x);\n'
                 b'\tpr_warn(FW_WARN DRV_NAME\n\t\t"bad\\n");\n'
                 b'\tsscanf(buf, "%"__stringify(IFNAMSIZ)"s %u", name, &x);\n'
                 b'\tprintk(KERN_INFO VERSION " with " OPTIONS " on\\n");\n}\n')
    assert names(unit) == ["f"] and node_types(unit).count("call_expression") == 3 + 1
    assert unit.text(unit.function("f")).count("KERN_ERR") == 1  # the source is untouched


def test_section_words_of_any_subsystem_are_annotations():
    unit = clean(b"static int __net_init ns_init(struct net *net)\n{\n\treturn 0;\n}\n"
                 b"static void __net_exit ns_exit(struct net *net)\n{\n}\n"
                 b"static struct pernet_operations __net_initdata ops = { .init = ns_init };\n"
                 b"static struct hook_list hooks[] __lsm_ro_after_init = { };\n"
                 b"void __init_memblock reserve(void)\n{\n}\n")
    assert names(unit) == ["ns_init", "ns_exit", "reserve"]


def test_names_with_init_in_them_are_not_annotations():
    src = (b"bool __page_init_poisoning = true;\n"
           b"void f(void)\n{\n\tcreate((unsigned long)__start_ro_after_init, __end_ro_after_init);\n}\n")
    unit = clean(src)
    assert unit.masked == src.replace(b"(void)", b"(Void)")


def test_unlisted_double_underscore_markers_between_type_and_name():
    unit = clean(b"static void __head fixup(int a)\n{\n}\n"
                 b"static map_word __xipram read_word(struct map_info *map)\n{\n}\n"
                 b"pud_t __head *pud_of(void);\n"
                 b"typedef int word_type __mode(__word__);\n"
                 b"extern const u8 sbox[256] __alias(table);\n"
                 b"struct ops { efi_status_t (__efiapi *get_next)(int *, u16 *); };\n")
    assert names(unit) == ["fixup", "read_word"]


def test_known_types_and_names_with_double_underscore_stay():
    src = (b"void f(void)\n{\n\tunsigned __int128 x;\n\tconst __u32 y;\n\tstatic __u32 z;\n"
           b"\tstruct foo __bar;\n\tint __x = 1;\n\tx = __foo(y);\n}\n"
           b"long long __ashrdi3(long long, int);\nint __foo(void);\n")
    unit = clean(src)
    for word in (b"__int128 x", b"__u32 y", b"__u32 z", b"__bar;", b"__x = 1", b"__foo(y)", b"__ashrdi3(", b"__foo("):
        assert word in unit.masked


def test_storage_and_inline_macros_before_a_type():
    unit = clean(b"STATIC int\nxfs_init(void)\n{\n\treturn 0;\n}\n"
                 b"STATIC uint\nxfs_calc(int n)\n{\n\treturn n;\n}\n"
                 b"MEM_STATIC U32 weight(U32 stat)\n{\n\treturn stat;\n}\n"
                 b"INDIRECT_CALLABLE_SCOPE int udp_rcv(struct sk_buff *skb)\n{\n\treturn 0;\n}\n"
                 b"static SBA_INLINE void sba_free(int x)\n{\n}\n"
                 b"static noinline_for_stack int big(void)\n{\n\treturn 1;\n}\n")
    assert names(unit) == ["xfs_init", "xfs_calc", "weight", "udp_rcv", "sba_free", "big"]


def test_an_upper_case_typedef_before_const_is_the_type():
    src = b"static FUNC const table[] = { a, b };\n"
    assert clean(src).masked == src


def test_static_declaration_macros_keep_the_name():
    unit = clean(b"static DEVICE_ATTR(group, 0644, group_show, group_store);\n"
                 b"static SIMPLE_DEV_PM_OPS(pm_ops, dev_suspend, dev_resume);\n"
                 b"CONFIGFS_ATTR(, pgr_support);\n")
    assert b"static DEVICE_ATTR(group" + b" " * len(b", 0644, group_show, group_store") + b");" in unit.masked


def test_macro_arguments_that_are_no_expressions():
    unit = clean(b"void f(void)\n{\n\tphylink_set(mask, 10000baseT_Full);\n"
                 b"\tif (tg3_flag(tp, 5780_CLASS) && x == 1e-5 && y == 0x1fUL)\n"
                 b"\t\tTEST_SPEED_RETURN(100M, 100);\n"
                 b"\tPP_ASSERT_WITH_CODE(!ret, \"failed\", return ret;);\n"
                 b"\tIO_COND(addr, return inb(port), return readb(addr));\n"
                 b"\tDLM_ASSERT(x < n, dump(r););\n"
                 b"\tASSERTCMP(call->state, ==, DONE);\n"
                 b"\tc = X86_CONFIG(.event=0xc0, .umask=0x01);\n"
                 b"\tF(a, , b);\n"
                 b"\tfor (i = 0; i < n; )\n\t\ti++;\n}\n")
    assert names(unit) == ["f"] and node_types(unit).count("for_statement") == 1
    assert b"1e-5" in unit.masked and b"0x1fUL" in unit.masked


def test_asm_templates_made_of_macros_and_register_names():
    unit = clean(b"void f(void)\n{\n\tregister unsigned long r0 asm(\"r0\") = x;\n"
                 b"\tasm volatile (SFENCE_W_INVAL() ::: \"memory\");\n"
                 b"\tasm(ALTERNATIVE(\"isb\", \"nop\",\n\t\t\tARM64_WORKAROUND));\n"
                 b"\tasm volatile(\"0: diag\\n\"\n\t\tEX_TABLE(0b, 1b)\n\t\t: \"=d\" (rc) : \"a\" (&r) : \"cc\");\n"
                 b"\tasm goto(\"1: vmxon\\n\\t\" _ASM_EXTABLE(1b, %l[fault]) : : : : fault);\n"
                 b"fault:\n\treturn;\n}\n")
    assert names(unit) == ["f"] and node_types(unit).count("gnu_asm_expression") == 4


def test_lines_of_upper_case_macro_calls_and_a_last_macro_line():
    unit = clean(b"const char *name(enum cmd cmd)\n{\n#define N(val) case CMD_##val: return #val;\n"
                 b"\tswitch (cmd) {\n\tN(UP) N(DOWN) N(REBOOT)\n\tN(CHANGE)\n\t}\n#undef N\n"
                 b"\treturn \"UNKNOWN\";\n}\nmodule_exit(cleanup)\n")
    assert names(unit) == ["name"]


def test_gnu_case_ranges_and_named_variadic_macro_parameters():
    unit = clean(b"#define dprintk(args...) printk(args)\n"
                 b"int f(int x)\n{\n\tswitch (x) {\n\tcase 1 ... 3:\n\t\treturn 1;\n"
                 b"\tcase 'a'...'z':\n\t\treturn 2;\n\t}\n\treturn 0;\n}\n")
    assert names(unit) == ["f"] and node_types(unit).count("case_statement") == 2


def test_directives_inside_initializer_and_enum_lists():
    unit = clean(b"static const char *flags[] = {\n#define FLAG(F) [F] = #F\n\tFLAG(A),\n\tFLAG(B),\n#undef FLAG\n};\n"
                 b"struct cgroup_subsys *subsys[] = {\n#include <linux/cgroup_subsys.h>\n};\n"
                 b"enum e {\n\tE_A,\n#define E_X 1\n\tE_B,\n};\n"
                 b"void f(void)\n{\n#define Y 2\n\tg(Y);\n#undef Y\n}\n")
    assert names(unit) == ["f"]
    assert b"#define Y 2" in unit.masked  # a directive between statements stays


def test_a_continuation_onto_a_blanked_line_is_dropped():
    unit = clean(b"#define IPV4_DEVCONF_DFLT(net, attr) \\\n\tIPV4_DEVCONF((*net->devconf_dflt), attr)\n\n"
                 b"#define OFF /* not yet */\n"
                 b"static const struct nla_policy policy[MAX + 1] = {\n\t[A] = { .type = NLA_U32 },\n};\n")
    assert len([n for n in walk(unit.root) if n.type == "preproc_function_def"]) == 1
    assert [unit.text(n.child_by_field_name("name")) for n in walk(unit.root) if n.type == "preproc_def"] == [
        "OFF"]


def test_loop_macros_not_named_for_each():
    unit = clean(b"void f(struct sk_buff_head *q)\n{\n\tstruct sk_buff *skb, *frag;\n\n"
                 b"\tskb_queue_walk(q, skb) {\n\t\tcount++;\n\t}\n"
                 b"\tNCSI_FOR_EACH_CHANNEL(np,\n\t\t\t      nc) {\n\t\tnc->state = 0;\n\t}\n"
                 b"\tskb_walk_frags(skb, frag)\n\t\tfrag->sk = NULL;\n"
                 b"\tif (x)\n\t\twith_intel_runtime_pm(rpm, wakeref)\n\t\t\tflush(wakeref);\n"
                 b"\tret = foo(a,\n\t\t  bar(b)\n\t\t  + c);\n}\n")
    assert names(unit) == ["f"] and node_types(unit).count("while_statement") == 4
    from reviewbot.facts import facts_of

    loops = facts_of(unit).loops_in("f")
    assert [loop.macro for loop in loops] == ["skb_queue_walk", "NCSI_FOR_EACH_CHANNEL", "skb_walk_frags",
                                              "with_intel_runtime_pm"]
    assert loops[0].args == ("q", "skb")


def test_board_description_macros_are_struct_initializers():
    unit = clean(b"static void init(void)\n{\n}\n\n"
                 b"MACHINE_START(SIM_ONE, \"Sim.One Board\")\n\t/* Maintainer */\n\t.atag_offset\t= 0x100,\n"
                 b"\t.init_machine\t= init,\nMACHINE_END\n\n"
                 b"define_machine(efika) {\n\t.name\t\t= \"Efika\",\n\t.probe\t\t= probe,\n};\n"
                 b"static int after(void)\n{\n\treturn 0;\n}\n")
    assert names(unit) == ["init", "after"] and node_types(unit).count("initializer_list") == 2


def test_unnamed_bitfields_and_typeof_declarations():
    unit = clean(b"struct regs {\n\tu32 : 16;\n\tint :32; int :32;\n\tunsigned int mode : 3;\n};\n"
                 b"void f(struct stat64 *ubuf)\n{\n\ttypeof(ubuf->st_gid) gid = 0;\n"
                 b"\tconst typeof(*ubuf) *p = ubuf;\n\tif (size != (__typeof__(ubuf->st_size))size)\n"
                 b"\t\treturn;\n\ttypeof_member(struct proc_ops, proc_read) read;\n}\n")
    assert names(unit) == ["f"] and b"mode : 3" in unit.masked


def test_polling_macros_take_if_break_as_an_argument():
    unit = clean(b"int wait_idle(struct nvkm_device *device)\n{\n"
                 b"\tif (nvkm_msec(device, 10,\n\t\tif (!(nvkm_rd32(device, 0x400700) & 1))\n\t\t\tbreak;\n"
                 b"\t) < 0)\n\t\treturn -EBUSY;\n\treturn 0;\n}\n")
    assert names(unit) == ["wait_idle"] and node_types(unit).count("if_statement") == 1


def test_multi_line_definition_macro_without_semicolon():
    unit = clean(b"DEFINE_BPF_ITER_FUNC(task_file, struct bpf_iter_meta *meta,\n\t\t     struct file *file)\n\n"
                 b"static struct ctx *\nlookup(struct ctx *ctx,\n       unsigned long flags)\n{\n"
                 b"\tstatic const void * const table[2] __annotate_jump_table = { &&a, &&b };\n"
                 b"a:\nb:\n\treturn ctx;\n}\n"
                 b"#define CHECK(a, b) \\\ncheck_bits(a, \\\n\tb)\n")
    assert names(unit) == ["lookup"]
    assert b"check_bits(a," in unit.masked  # a #define's body stays


def test_unclosed_and_nested_parentheses_cost_no_time_squared():
    import time

    n = 20000
    for text in (b"\nfoo(a,\n" * n, b"\tlist_for_each(" * n + b")" * n, b"(" * n + b"\tx) {\n" * n,
                 b"asm(\n" * n, b"} while_each_thread(" * n, b"f(a, if (" * n, b"\nfoo(" * n + b")" * n):
        started = time.perf_counter()
        assert len(mask(text)) == len(text)
        assert time.perf_counter() - started < 10  # about 0.1 s each; minutes before the bound
