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
