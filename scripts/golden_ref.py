#!/usr/bin/env python3
"""Reference outputs from llama.cpp for the golden tests (tests/golden/*.json).

Drives the libllama built by scripts/build-llamacpp through ctypes, using the low-level
bindings (llama_cpp/llama_cpp.py) shipped in the same llama-cpp-python sdist, so the
struct layouts always match the vendored llama.cpp. Only the standard library is needed.

Usage (normally through scripts/make-golden):
  golden_ref.py --sdist DIR --bin DIR --model GGUF --out DIR [--only tokenizer,logits,greedy,perplexity]
"""

import argparse
import ctypes
import json
import math
import os
import re
import subprocess
import sys
import types

MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_THREADS = 2

L = None  # the llama_cpp.llama_cpp bindings module, set by load_bindings()
ARGS = None


def load_bindings(sdist, bindir):
    """Imports llama_cpp/llama_cpp.py from the sdist without running the package __init__
    (which would pull in numpy/jinja2), pointing it at our libllama.so."""
    global L
    os.environ["LLAMA_CPP_LIB_PATH"] = bindir
    pkg = types.ModuleType("llama_cpp")
    pkg.__path__ = [os.path.join(sdist, "llama_cpp")]
    sys.modules["llama_cpp"] = pkg
    import llama_cpp.llama_cpp as bindings  # noqa: E402
    L = bindings
    L.llama_backend_init()
    # keep llama.cpp's log quiet (errors still go to stderr)
    cb_type = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

    def _log(level, text, user):
        if level == 4:  # GGML_LOG_LEVEL_ERROR
            sys.stderr.write(text.decode("utf-8", "replace"))

    load_bindings._cb = cb_type(_log)
    L.llama_log_set(load_bindings._cb, None)


class Model:
    def __init__(self, path, vocab_only=False):
        mp = L.llama_model_default_params()
        mp.vocab_only = vocab_only
        mp.n_gpu_layers = 0
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise SystemExit(f"golden_ref: cannot load {path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)

    def tokenize(self, raw: bytes, add_special: bool, parse_special: bool):
        cap = len(raw) + 16
        buf = (L.llama_token * cap)()
        n = L.llama_tokenize(self.vocab, raw, len(raw), buf, cap, add_special, parse_special)
        if n < 0:
            cap = -n
            buf = (L.llama_token * cap)()
            n = L.llama_tokenize(self.vocab, raw, len(raw), buf, cap, add_special, parse_special)
        assert n >= 0
        return list(buf[:n])

    def piece(self, tok: int, special=True) -> bytes:
        buf = ctypes.create_string_buffer(256)
        n = L.llama_token_to_piece(self.vocab, tok, buf, 256, 0, special)
        assert n >= 0
        return buf.raw[:n]

    def detokenize(self, ids, special=False) -> bytes:
        arr = (L.llama_token * max(1, len(ids)))(*ids)
        cap = 64 + 32 * len(ids)
        buf = ctypes.create_string_buffer(cap)
        n = L.llama_detokenize(self.vocab, arr, len(ids), buf, cap, False, special)
        assert n >= 0
        return buf.raw[:n]

    def chat_template(self) -> bytes:
        return L.llama_model_chat_template(self.model, None)

    def apply_template(self, messages, add_ass=True) -> str:
        tmpl = self.chat_template()
        msgs = (L.llama_chat_message * len(messages))()
        keep = []
        for i, m in enumerate(messages):
            r, c = m["role"].encode(), m["content"].encode()
            keep += [r, c]
            msgs[i].role = r
            msgs[i].content = c
        cap = 4096
        buf = ctypes.create_string_buffer(cap)
        n = L.llama_chat_apply_template(tmpl, msgs, len(messages), add_ass, buf, cap)
        if n > cap:
            cap = n
            buf = ctypes.create_string_buffer(cap)
            n = L.llama_chat_apply_template(tmpl, msgs, len(messages), add_ass, buf, cap)
        assert n >= 0, "llama_chat_apply_template failed"
        return buf.raw[:n].decode("utf-8")


class Context:
    """A context with llama.cpp's default parameters except the thread count."""

    def __init__(self, model: Model, n_ctx=512):
        cp = L.llama_context_default_params()
        self.defaults = {f: getattr(cp, f) for f in
                         ("n_ctx", "n_batch", "n_ubatch", "n_seq_max", "flash_attn_type",
                          "type_k", "type_v", "kv_unified")}
        cp.n_ctx = n_ctx
        cp.n_threads = N_THREADS
        cp.n_threads_batch = N_THREADS
        self.params = {f: getattr(cp, f) for f in
                       ("n_ctx", "n_batch", "n_ubatch", "n_seq_max", "n_threads", "flash_attn_type",
                        "type_k", "type_v")}
        self.model = model
        self.ctx = L.llama_init_from_model(model.model, cp)
        if not self.ctx:
            raise SystemExit("golden_ref: cannot create a context")
        self.batch = L.llama_batch_init(n_ctx, 0, 1)

    def clear(self):
        L.llama_memory_clear(L.llama_get_memory(self.ctx), True)

    def decode(self, ids, pos0, logits_all):
        b = self.batch
        b.n_tokens = len(ids)
        for i, t in enumerate(ids):
            b.token[i] = t
            b.pos[i] = pos0 + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = 1 if (logits_all or i == len(ids) - 1) else 0
        rc = L.llama_decode(self.ctx, b)
        if rc != 0:
            raise SystemExit(f"golden_ref: llama_decode returned {rc}")

    def logits(self, i):
        p = L.llama_get_logits_ith(self.ctx, i)
        return p[: self.model.n_vocab]


# ---------------------------------------------------------------------------------------
# a. tokenizer


def tokenizer_strings():
    """(bytes, tag) pairs: a broad sweep of what a GPT-2 byte-level BPE must get right."""
    out = []

    def add(s, tag):
        out.append((s.encode("utf-8") if isinstance(s, str) else s, tag))

    prose = [
        "Hello world", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
        "hello", " hello", "  hello", "Hello", "HELLO", "hElLo WoRlD",
        "It was the best of times, it was the worst of times.",
        "Machine learning models are trained on large datasets.",
        "Kubernetes schedules pods onto nodes in a cluster.",
        "What is the capital of France?", "Paris is the capital and largest city of France.",
        "a", "A", "I", "x y z", "supercalifragilisticexpialidocious",
        "The year 2024 was a leap year; 2023 was not.",
        "Once upon a time, in a land far, far away, there lived a small dragon.",
        "Dr. Smith arrived at 5 p.m. on Jan. 3rd.", "e.g. i.e. etc. vs.",
        "U.S.A. and U.K.", "mother-in-law", "state-of-the-art", "well_known_name",
        "CamelCaseIdentifier", "snake_case_identifier", "SCREAMING_SNAKE_CASE",
        "email@example.com", "https://example.com/path?query=1&x=y#frag",
        "C:\\Windows\\System32", "/usr/local/bin/python3", "~/.bashrc",
        "Hello\nWorld", "Hello\n\nWorld", "Hello\r\nWorld", "Hello\tWorld",
        "SmolLM2 is a family of compact language models.",
        "The temperature was -5.5 degrees.", "Version 1.2.3-beta+build.45",
        "#hashtag @mention $dollar %percent ^caret &amp *star",
    ]
    for s in prose:
        add(s, "prose")

    contractions = [
        "it's", "don't", "we're", "they've", "I'm", "you'll", "he'd",
        "IT'S", "DON'T", "WE'RE", "THEY'VE", "I'M", "YOU'LL", "HE'D",
        "It'S", "Don'T", "We'Re", "rock'n'roll", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
        "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D", "''", "'", "'''", "' s", "o'clock",
        "Let's go! We'll see what they'd've done.", "I can't, won't, shouldn't.",
        "‘curly’ “quotes”", "it’s (curly apostrophe)", "y'all'd've",
    ]
    for s in contractions:
        add(s, "contractions")

    digits = [
        "0", "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890",
        "3.14159", "3.14159265358979323846", "1,000,000", "1.000.000,50", "1 000 000",
        "-42", "+42", "0x1F", "0b1010", "1e10", "6.02e23", "1/2", "50%", "$100.00", "€99,99",
        "2024-01-15", "12:34:56", "192.168.0.1", "phone: +1 (555) 123-4567",
        "abc123def", "123abc", "a1b2c3", "٣٤٥", "१२३", "一二三", "①②③", "½ ¾", "Ⅻ",
        "9" * 40, "007", "0.0001", "1,234.56",
    ]
    for s in digits:
        add(s, "digits")

    ws = [
        " ", "  ", "   ", "    ", " " * 16, "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r",
        " \n", "\n ", " \t \n ", "\t \t", "a  b", "a   b", "a\t\tb", "a \n b", "a\n\n\nb",
        "  leading", "trailing  ", "  both  ", "\nleading newline", "trailing newline\n",
        "line1\nline2\nline3", "    indented code", "\u00a0nbsp", "a\u2003b (em space)",
        "a\u200bb (zero width space)", "\u3000ideographic space", "mixed \t\n\r\n  \t end",
        " " * 100, "\n" * 20, "x" + " " * 7 + "y", "\f form feed", "\v vertical tab",
    ]
    for s in ws:
        add(s, "whitespace")

    punct = [
        "!", "?", "...", "…", "!!!", "?!", "--", "—", "–", "()", "[]", "{}", "<>", "<<>>",
        "\"quoted\"", "'single'", "`backtick`", "a,b;c:d", "a.b.c", "@#$%^&*", "~!@#$%^&*()_+",
        "<html><body>", "</div>", "<|notspecial|>", "<|im_start", "im_start|>", "<||>",
        "::", "->", "=>", "!=", "===", "<=>", "/* */", "//", "#!", "§¶†‡", "«»", "¿¡",
        "。、！？", "——", "\\", "\\\\", "|", "||", "&&",
    ]
    for s in punct:
        add(s, "punctuation")

    accents = [
        "café", "naïve", "résumé", "Ångström", "Zürich", "São Paulo", "Kraków", "Dvořák",
        "Ærøskøbing", "façade", "jalapeño", "über", "straße", "STRASSE", "Ελληνικά",
        "cafe\u0301 (combining acute)", "e\u0301\u0302\u0303", "ﬁ ligature", "Ｆｕｌｌｗｉｄｔｈ",
        "İstanbul", "ıi", "ǅ", "Ǆ", "Ωmega", "µ micro", "Å (angstrom sign)",
    ]
    for s in accents:
        add(s, "accents")

    cjk = [
        "你好", "你好，世界！", "我爱自然语言处理。", "中华人民共和国", "日本語のテキスト",
        "こんにちは", "カタカナ", "ひらがなとカタカナと漢字", "한국어", "안녕하세요 세계",
        "東京は日本の首都です。", "北京 2008", "中文English混合", "𠀀𠀁 (CJK ext B)", "〇",
    ]
    for s in cjk:
        add(s, "cjk")

    emoji = [
        "😀", "😀😀😀", "Hello 👋", "👍🏽", "👍🏿", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇯🇵",
        "❤️", "✔️", "1️⃣", "🧑🏾‍🚀", "🤖 robots", "🎉🎊🥳", "☕", "🫠", "emoji at end 🚀",
        "👩🏻‍❤️‍💋‍👨🏼", "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    ]
    for s in emoji:
        add(s, "emoji")

    scripts = [
        "مرحبا بالعالم", "السلام عليكم", "שלום עולם", "עברית", "Привет, мир!", "Москва",
        "ПРИВЕТ", "नमस्ते दुनिया", "हिन्दी", "สวัสดีชาวโลก", "ภาษาไทย", "Γειά σου Κόσμε",
        "αβγδε ΑΒΓΔΕ", "Ճանապարհ", "ქართული", "বাংলা", "தமிழ்", "ᚠᚢᚦᚨᚱᚲ", "ⴰⵣⵓⵍ",
        "English, Русский, 中文, العربية, हिन्दी", "abcабв", "Latin ΑΛΦΑ אלף",
    ]
    for s in scripts:
        add(s, "scripts")

    code = [
        "def main():\n    print(\"hello\")\n",
        "for i in range(10):\n\tif i % 2 == 0:\n\t\tcontinue\n",
        "import numpy as np\nx = np.zeros((3, 4), dtype=np.float32)",
        "class Foo(Bar):\n    def __init__(self, x: int) -> None:\n        self.x = x\n",
        "lambda x: x ** 2", "print(f\"{name!r:>10}\")", "# comment\n'''docstring'''",
        "#include <vector>\nint main() { return 0; }",
        "std::vector<int> v{1, 2, 3};\nfor (auto& x : v) x *= 2;",
        "template <typename T>\nconstexpr T sq(T x) noexcept { return x * x; }",
        "if (a && b || !c) { ptr->field = arr[i++]; }", "int* p = nullptr; // TODO",
        "{\"key\": \"value\", \"n\": 42, \"arr\": [1, 2.5, true, null]}",
        "{\n  \"name\": \"turbine\",\n  \"version\": \"0.1.0\"\n}", "[]", "{}", "{\"\":\"\"}",
        "SELECT id, name FROM users WHERE age > 21 ORDER BY name;",
        "<div class=\"container\"><p>Hello</p></div>", "$ ls -la | grep '\\.py$'",
        "fn main() { println!(\"hi\"); }", "const x = () => { return 1; };",
        "    return x;\n}\n", "x=1;y=2;z=x+y", "a[0][1]", "i++; --j;", "0xDEADBEEF",
        "key: value\nlist:\n  - a\n  - b\n", "```python\nprint(1)\n```",
    ]
    for s in code:
        add(s, "code")

    long_words = [
        "a" * 100, "ab" * 60, "x" * 500, "Pneumonoultramicroscopicsilicovolcanoconiosis",
        "Donaudampfschifffahrtsgesellschaftskapitän", "の" * 50, "😀" * 30,
        "antidisestablishmentarianism" * 4, "-" * 80, "=" * 64, "." * 33, "_" * 40,
        "word " * 50, "ThisIsAVeryLongCamelCaseIdentifierWithoutAnySeparatorsAtAll",
    ]
    for s in long_words:
        add(s, "long")

    special = [
        "<|im_start|>", "<|im_end|>", "<|endoftext|>",
        "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|>system\nYou are helpful.<|im_end|>\n", "text<|endoftext|>more text",
        "<|im_end|><|im_end|>", " <|im_start|> spaced ", "<|im_start|>user",
        "before <|endoftext|> after", "<|im_start|><|im_end|><|endoftext|>",
        "<|IM_START|>", "<|im_start |>", "<|im_start|", "<repo_name>", "<file_sep>",
        "<filename>", "<gh_stars>", "<issue_start>", "<jupyter_code>", "<empty_output>",
    ]
    for s in special:
        add(s, "special")

    invalid = [
        b"\x80", b"\xbf", b"\x80\x80\x80", b"abc\x80def", b"\xc3", b"\xc3 ", b"caf\xc3",
        b"\xe4\xbd", b"\xe4\xbd\xa0\xe5", b"\xf0\x9f\x98", b"\xf0\x9f", b"\xc0\x80", b"\xc1\xbf",
        b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xff", b"\xfe",
        b"\xff\xfe", b"a\xffb", b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80",
        b"\xf4\x90\x80\x80", b"\xf7\xbf\xbf\xbf", b"hello\xc3(world", b"\xe2\x82", b"\xe2\x82\xac",
        b"\xc2\xa0\x80", b"\x00", b"a\x00b", b"\x01\x02\x03\x1f\x7f", b"\xef\xbb\xbfBOM",
        b"\xef\xbf\xbd", b"\xc3\xa9\x80\xc3\xa9", b"\x80hello", b"hello\x80",
        b"\xe4\xbd\xa0\xe5\xa5\xbd\xe4", b" \xf0\x9f\x98\x80\xf0\x9f\x98",
    ]
    for s in invalid:
        add(s, "invalid_utf8")

    add(b"", "empty")
    mixed = [
        "Hello 你好 مرحبا 👋 Привет", "Price: 100€ (≈ $108) — 15% off!", "x² + y² = z²",
        "∀x ∈ ℝ: x² ≥ 0", "E = mc²", "H₂O", "α + β = γ", "½ + ¼ = ¾", "→ ← ↑ ↓ ⇒",
        "The café served 3 crème brûlées for €12.50 😋", "Tab\tseparated\tvalues\n1\t2\t3",
        "Mr. O'Neil's 2nd-floor office (Room #12B)", "<b>bold</b> & <i>italic</i>",
    ]
    for s in mixed:
        add(s, "mixed")
    return out


def tokenize_aborts(raw: bytes) -> bool:
    """llama.cpp throws an uncaught C++ exception (process abort) for some invalid UTF-8
    (e.g. 4-byte forms above U+10FFFF): probe such inputs in a child process first."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import golden_ref as g; "
            "g.load_bindings(sys.argv[2], sys.argv[3]); "
            "g.Model(sys.argv[4], vocab_only=True).tokenize(bytes.fromhex(sys.argv[5]), False, False)")
    a = ARGS
    p = subprocess.run([sys.executable, "-B", "-c", code, os.path.dirname(os.path.abspath(__file__)),
                        a.sdist, a.bin, a.model, raw.hex()], capture_output=True)
    return p.returncode != 0


def make_tokenizer(model, source):
    strings = tokenizer_strings()
    cases = []
    aborts = []
    flags_cycle = [(True, False), (False, False), (True, True), (False, True)]
    for i, (raw, tag) in enumerate(strings):
        variants = [(False, False)]
        if tag == "special":
            variants = [(False, False), (False, True), (True, True)]
        elif i % 7 == 0:
            variants.append(flags_cycle[(i // 7) % 4])
        if tag == "invalid_utf8" and tokenize_aborts(raw):
            aborts.append({"text_hex": raw.hex(), "add_special": False, "parse_special": False})
            continue
        seen = set()
        for add_special, parse_special in variants:
            if (add_special, parse_special) in seen:
                continue
            seen.add((add_special, parse_special))
            ids = model.tokenize(raw, add_special, parse_special)
            cases.append({
                "category": tag,
                "text": raw.decode("utf-8", "replace"),
                "text_hex": raw.hex(),
                "add_special": add_special,
                "parse_special": parse_special,
                "ids": ids,
            })
    return {
        "model": MODEL_NAME,
        "source": source,
        "notes": ("ids from llama_tokenize(vocab, bytes, len, ..., add_special, parse_special). "
                  "'text' is a lossy UTF-8 rendering for humans; tokenize the bytes of text_hex. "
                  "This model has add_bos=false and add_eos=false, so add_special adds nothing. "
                  "llama_aborts lists inputs on which llama_tokenize aborts the process "
                  "(uncaught std::invalid_argument 'invalid codepoint'), so no reference exists; "
                  "turbine must not crash on them."),
        "llama_aborts": aborts,
        "cases": cases,
    }


# ---------------------------------------------------------------------------------------
# b. logits

LOGIT_TEXTS = [
    # prose
    "The history of the city goes back more than two thousand years. It was founded as a small "
    "trading post on the banks of the river, where merchants from the north exchanged furs and "
    "amber for wine, olive oil and pottery brought by ships from the south. Over the centuries "
    "the settlement grew into a walled town with a market square, a cathedral and a university.",
    # code
    "def fibonacci(n: int) -> list[int]:\n    \"\"\"Return the first n Fibonacci numbers.\"\"\"\n"
    "    result = []\n    a, b = 0, 1\n    for _ in range(n):\n        result.append(a)\n"
    "        a, b = b, a + b\n    return result\n\n\nif __name__ == \"__main__\":\n"
    "    print(fibonacci(10))\n",
    # chat formatted, with special tokens
    "<|im_start|>system\nYou are a helpful AI assistant.<|im_end|>\n<|im_start|>user\nCan you "
    "explain why the sky is blue in simple terms?<|im_end|>\n<|im_start|>assistant\nSure! "
    "Sunlight looks white, but it is made of many colors. When it enters the atmosphere, it "
    "bumps into tiny gas molecules, and blue light is scattered much more than red light.",
    # numbers / list
    "Shopping list for the week:\n1. Eggs (12)\n2. Milk, 2 liters\n3. Bread - whole wheat\n"
    "4. Apples x 6\n5. Coffee beans, 500 g\n6. Rice, 1 kg\nTotal budget: $45.80, paid on "
    "2024-03-15 at 10:30.",
    # multilingual
    "Bonjour, je m'appelle Marie et j'habite à Paris. Hola, me llamo Carlos y vivo en Madrid. "
    "Hallo, ich heiße Anna und wohne in Berlin. Ciao, mi chiamo Luca e abito a Roma. "
    "Olá, meu nome é João e moro em Lisboa.",
    # repetition
    "one two three four five six seven eight nine ten. " * 8,
    # JSON
    "{\n  \"id\": 1042,\n  \"name\": \"turbine-engine\",\n  \"replicas\": 3,\n  \"resources\": "
    "{\n    \"cpu\": \"2\",\n    \"memory\": \"4Gi\"\n  },\n  \"labels\": [\"inference\", "
    "\"llm\", \"gpu\"],\n  \"enabled\": true\n}\n",
    # science
    "Photosynthesis is the process by which green plants and some other organisms use sunlight "
    "to synthesize foods from carbon dioxide and water. Photosynthesis in plants generally "
    "involves the green pigment chlorophyll and generates oxygen as a byproduct. The process "
    "takes place mainly in the leaves, where chloroplasts capture light energy and convert it "
    "into chemical energy stored in sugars such as glucose.",
]
TOPK = 64
LOGIT_LEN = 64


def log_softmax(row):
    m = max(row)
    s = math.fsum(math.exp(x - m) for x in row)
    lse = m + math.log(s)
    return [x - lse for x in row]


def make_logits(model, source):
    ctx = Context(model, n_ctx=512)
    cases = []
    for text in LOGIT_TEXTS:
        parse_special = "<|im_start|>" in text
        ids = model.tokenize(text.encode(), True, parse_special)
        assert len(ids) >= LOGIT_LEN, (len(ids), text[:40])
        ids = ids[:LOGIT_LEN]
        ctx.clear()
        ctx.decode(ids, 0, logits_all=True)
        top_ids, top_lp = [], []
        for i in range(LOGIT_LEN):
            lp = log_softmax(ctx.logits(i))
            order = sorted(range(len(lp)), key=lambda t: (-lp[t], t))[:TOPK]
            top_ids.append(order)
            top_lp.append([round(lp[t], 5) + 0.0 for t in order])
        cases.append({
            "text": model.detokenize(ids, special=True).decode("utf-8", "replace"),
            "source_text_prefix": text[:60],
            "parse_special": parse_special,
            "ids": ids,
            "top_ids": top_ids,
            "top_logprobs": top_lp,
        })
    return {
        "model": MODEL_NAME,
        "source": source,
        "settings": dict(ctx.params, note=(
            "llama_context_default_params() with n_ctx=512 and n_threads=n_threads_batch=2; "
            "one llama_decode of all 64 tokens (positions 0..63, seq 0, logits for every "
            "position); empty KV cache before each case; no BOS (add_bos=false). "
            "flash_attn_type -1 = auto, type_k/type_v 1 = F16.")),
        "format": ("top_ids[p] / top_logprobs[p]: the 64 most likely next tokens after "
                   f"ids[0..p] and their log-softmax over the full {len(ctx.logits(0))}-token vocab (ties by "
                   "lower id); the mass outside the top 64 is 1 - sum(exp(top_logprobs[p]))."),
        "cases": cases,
    }


# ---------------------------------------------------------------------------------------
# c. greedy generation

CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Hi!"}],
    [{"role": "user", "content": "Write a Python function that checks whether a number is prime."}],
    [{"role": "user", "content": "What is 12 times 7? Explain step by step."}],
    [{"role": "user", "content": "List three benefits of regular exercise."}],
    [{"role": "user", "content": "Translate to French: Good morning, how are you today?"}],
    [{"role": "system", "content": "You are a pirate. Always answer like a pirate."},
     {"role": "user", "content": "Where is the treasure buried?"}],
    [{"role": "user", "content": "Summarize in one sentence: The Industrial Revolution began in "
                                 "Britain in the late 18th century and transformed manufacturing, "
                                 "transport and society."}],
    [{"role": "user", "content": "Write a haiku about autumn leaves."}],
    [{"role": "user", "content": "Explain what a Kubernetes pod is to a beginner."}],
]
GEN_LEN = 64


def argmax(row):
    best, bi = row[0], 0
    for i, v in enumerate(row):
        if v > best:
            best, bi = v, i
    return bi


def render_jinja(model, messages):
    """The model's own chat template rendered by jinja2, as transformers' apply_chat_template
    and llama-server --jinja render it (SmolLM2's inserts its default system message)."""
    import jinja2  # pip install jinja2
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(model.chat_template().decode("utf-8")).render(
        messages=messages, add_generation_prompt=True)


def make_greedy(model, source):
    ctx = Context(model, n_ctx=512)
    cases = []
    for messages in CHATS:
        prompt = render_jinja(model, messages)
        pids = model.tokenize(prompt.encode(), True, True)
        ctx.clear()
        ctx.decode(pids, 0, logits_all=False)
        out, margins, stopped = [], [], False
        pos = len(pids)
        row = ctx.logits(-1)
        for _ in range(GEN_LEN):
            t = argmax(row)
            second = max(v for i, v in enumerate(row) if i != t)
            margins.append(round(row[t] - second, 4))
            out.append(t)
            if L.llama_vocab_is_eog(model.vocab, t):
                stopped = True
                break
            ctx.decode([t], pos, logits_all=False)
            pos += 1
            row = ctx.logits(-1)
        text_ids = out[:-1] if stopped else out
        cases.append({
            "messages": messages,
            "prompt": prompt,
            "prompt_llama_chat_apply_template": model.apply_template(messages, add_ass=True),
            "prompt_ids": pids,
            "output_ids": out,
            "output_text": model.detokenize(text_ids, special=False).decode("utf-8", "replace"),
            "stopped_at_eog": stopped,
            "top1_margins": margins,
        })
    return {
        "model": MODEL_NAME,
        "source": source,
        "chat_template_in_gguf": model.chat_template().decode("utf-8"),
        "eog_ids": [t for t in range(model.n_vocab) if L.llama_vocab_is_eog(model.vocab, t)],
        "settings": dict(ctx.params, note=(
            "prompt = the GGUF's Jinja chat template rendered by jinja2 with add_generation_prompt "
            "(as transformers and llama-server --jinja do; SmolLM2's template inserts its default "
            "system message when the first message is not a system one). "
            "prompt_llama_chat_apply_template is what the legacy llama_chat_apply_template gives "
            "(built-in ChatML, no default system message), for reference; prompt_ids = llama_tokenize("
            "prompt, add_special=true, parse_special=true); prompt decoded in one batch, then one "
            "token per llama_decode; next token = argmax of the raw logits (lowest id on ties), "
            "no penalties; stops after an end-of-generation token (included in output_ids, not in "
            "output_text) or after 64 tokens. top1_margins[i] = logit(top1) - logit(top2) at "
            "step i (small margins are where another implementation may legitimately diverge).")),
        "cases": cases,
    }


# ---------------------------------------------------------------------------------------
# d. perplexity

PPL_FILE = "/usr/share/common-licenses/GPL-3"
PPL_CTX = 512


def make_perplexity(model, bindir, model_path, source):
    cmd = [os.path.join(bindir, "llama-perplexity"), "-m", model_path, "-f", PPL_FILE,
           "-c", str(PPL_CTX), "-t", str(N_THREADS)]
    print("golden_ref: running " + " ".join(cmd), file=sys.stderr)
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    log = p.stdout + "\n" + p.stderr
    if p.returncode != 0:
        sys.stderr.write(log[-3000:])
        raise SystemExit("golden_ref: llama-perplexity failed")
    m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", log)
    chunks = re.findall(r"\[(\d+)\]([0-9.]+),", log)
    info = re.search(r"calculating perplexity over (\d+) chunks, n_ctx=(\d+), batch_size=(\d+), "
                     r"n_seq=(\d+)", log)
    if not (m and chunks and info):
        sys.stderr.write(log[-3000:])
        raise SystemExit("golden_ref: cannot parse llama-perplexity output")
    # the file as llama-perplexity sees it: one trailing '\n' removed, add_special=true,
    # parse_special=false
    with open(PPL_FILE, "rb") as f:
        data = f.read()
    if data.endswith(b"\n"):
        data = data[:-1]
    tokens = model.tokenize(data, True, False)
    n_chunks = int(info.group(1))
    recomputed = recompute_ppl(model, tokens, n_chunks)
    return {
        "model": MODEL_NAME,
        "source": source,
        "file": PPL_FILE,
        "file_sha256": __import__("hashlib").sha256(open(PPL_FILE, "rb").read()).hexdigest(),
        "command": f"llama-perplexity -m {MODEL_NAME} -f " + PPL_FILE +
                   f" -c {PPL_CTX} -t {N_THREADS}",
        "ctx": PPL_CTX,
        "ppl": float(m.group(1)),
        "ppl_stderr": float(m.group(2)),
        "chunks": n_chunks,
        "running_ppl": [float(v) for _, v in chunks],
        "first_chunk_ppl": float(chunks[0][1]),
        "n_tokens": len(tokens),
        "n_scored": n_chunks * (PPL_CTX - PPL_CTX // 2 - 1),
        "batch_size": int(info.group(3)),
        "n_seq": int(info.group(4)),
        "first_chunk_ids_head": tokens[:16],
        "ppl_recomputed": recomputed,
        "notes": ("The file is read whole, one trailing newline dropped, tokenized with "
                  "add_special=true/parse_special=false (no BOS for this model). "
                  f"chunks = floor(n_tokens / {PPL_CTX}); the tail is ignored. Chunk k is tokens "
                  f"[k*{PPL_CTX}, (k+1)*{PPL_CTX}) evaluated from an empty KV cache at positions "
                  f"0..{PPL_CTX - 1}; the first token is NOT replaced by BOS because add_bos is "
                  f"false. Scored: the logits at positions {PPL_CTX // 2}..{PPL_CTX - 2} predicting "
                  f"the tokens at {PPL_CTX // 2 + 1}..{PPL_CTX - 1} ({PPL_CTX - PPL_CTX // 2 - 1} "
                  "per chunk). ppl = exp(mean NLL over all scored tokens); running_ppl[k] is the "
                  "estimate after k+1 chunks (so running_ppl[0] is the first chunk alone). "
                  "ppl_stderr = ppl * sqrt((E[nll^2] - E[nll]^2) / (count - 1)). "
                  "See tests/golden/README.md."),
    }


def recompute_ppl(model, tokens, n_chunks):
    """Re-derives the perplexity from the documented algorithm (one chunk per llama_decode,
    a single sequence, 512-token context) as a check of tests/golden/README.md. Needs numpy;
    returns None without it."""
    try:
        import numpy as np
    except ImportError:
        return None
    ctx = Context(model, n_ctx=PPL_CTX)
    first = PPL_CTX // 2
    nll, nll2, count, per_chunk = 0.0, 0.0, 0, []
    for k in range(n_chunks):
        chunk = tokens[k * PPL_CTX:(k + 1) * PPL_CTX]
        ctx.clear()
        ctx.decode(chunk, 0, logits_all=True)
        p = L.llama_get_logits(ctx.ctx)
        n_vocab = model.n_vocab
        lg = np.ctypeslib.as_array(p, shape=(PPL_CTX * n_vocab,)).reshape(PPL_CTX, n_vocab)
        rows = lg[first:PPL_CTX - 1].astype(np.float64)
        m = rows.max(axis=1, keepdims=True)
        lse = (m + np.log(np.exp(rows - m).sum(axis=1, keepdims=True)))[:, 0]
        tgt = np.array(chunk[first + 1:PPL_CTX])
        v = lse - rows[np.arange(len(tgt)), tgt]
        nll += float(v.sum())
        nll2 += float((v * v).sum())
        count += len(tgt)
        per_chunk.append(round(math.exp(float(v.mean())), 4))
    mean = nll / count
    var = nll2 / count - mean * mean
    ppl = math.exp(mean)
    return {"ppl": round(ppl, 4), "ppl_stderr": round(math.sqrt(var / (count - 1)) * ppl, 5),
            "per_chunk_ppl": per_chunk, "count": count,
            "how": "golden_ref.py recompute_ppl: each chunk alone in one llama_decode (n_seq=1)"}


# ---------------------------------------------------------------------------------------


def dump(obj, path):
    """Light pretty-printing: one line per case field, numeric lists kept on one line."""
    def enc(o, indent):
        pad = "  " * indent
        if isinstance(o, dict):
            items = [f'{pad}  {json.dumps(k)}: {enc(v, indent + 1)}' for k, v in o.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(o, list) and o and all(isinstance(x, (dict, list)) for x in o):
            items = [pad + "  " + enc(x, indent + 1) for x in o]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]"
        return json.dumps(o, ensure_ascii=False, separators=(",", ":"))
    with open(path, "w", encoding="utf-8") as f:
        f.write(enc(obj, 0) + "\n")
    print(f"golden_ref: wrote {path} ({os.path.getsize(path)} bytes)", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdist", required=True, help="extracted llama-cpp-python sdist")
    ap.add_argument("--bin", required=True, help="bin dir printed by scripts/build-llamacpp")
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--source", required=True, help="version string recorded in the JSON")
    ap.add_argument("--only", default="tokenizer,logits,greedy,perplexity")
    a = ap.parse_args()
    global ARGS, MODEL_NAME
    ARGS = a
    MODEL_NAME = os.path.basename(a.model)
    load_bindings(a.sdist, a.bin)
    only = set(a.only.split(","))
    os.makedirs(a.out, exist_ok=True)
    if "tokenizer" in only:
        dump(make_tokenizer(Model(a.model, vocab_only=True), a.source),
             os.path.join(a.out, "tokenizer.json"))
    model = None
    if only & {"logits", "greedy", "perplexity"}:
        model = Model(a.model)
    if "logits" in only:
        dump(make_logits(model, a.source), os.path.join(a.out, "logits.json"))
    if "greedy" in only:
        dump(make_greedy(model, a.source), os.path.join(a.out, "greedy.json"))
    if "perplexity" in only:
        dump(make_perplexity(model, a.bin, a.model, a.source),
             os.path.join(a.out, "perplexity.json"))


if __name__ == "__main__":
    main()
