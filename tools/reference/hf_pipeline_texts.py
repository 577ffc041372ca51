"""Texts for tools/reference/hf_pipeline_goldens.py: a training corpus and the tricky texts
every tokenizer.json of tests/data/hf-pipeline is checked on. All written for this project.

The last group holds characters that HF's Unicode tables and GLib's / PCRE2's see
differently (data/strata-tokenizer-unicode.c): added after Unicode 8.0 or 9.0 (HF's
normalization, mark and punctuation tables), changed category since, or of Unicode 15.0 to
16.0 (which GLib 2.74 and PCRE2 10.42 do not know, and HF's Rust and Oniguruma do)."""

CORPUS = """
Once upon a time there was a little robot named Pip. Pip lived in a workshop full of gears,
springs and tiny screws. Every morning Pip would wake up and say: "Today I'm going to build
something wonderful!" The old clockmaker smiled. "You can't build wonders in a day," he'd say,
"but you'll learn something new." They've worked together for 12 years and 3 months.
In 2023 they built 1,024 clocks; in 2024 they built 2,048. The tall clock chimed at 6:00.
Café owners, bakers and teachers bought clocks. The teacher said: naïve questions are the
best questions. Über-clocks, mini-clocks and self-winding clocks filled the shelves.
She's here. We're done. It'll work. I'd go. They'd seen it. Don't stop! Isn't it?
The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 256 1000 65536 3.14159 2.71828 1e10 0x1F.
def add(a, b):
    return a + b

if (x > 0 && y < 10) { print("ok"); } else { exit(1); }
https://example.com/path?query=1&lang=en user@example.org #tag @name
Καλημέρα κόσμε. Η γάτα κοιμάται στο σπίτι και ο σκύλος παίζει στον κήπο. Ευχαριστώ πολύ!
Привет, мир! Кошка спит на диване, а собака играет в саду. Спасибо большое, друзья.
مرحبا بالعالم. القطة نائمة في البيت والكلب يلعب في الحديقة. شكرا جزيلا يا أصدقاء.
नमस्ते दुनिया। बिल्ली घर में सो रही है और कुत्ता बगीचे में खेल रहा है। बहुत धन्यवाद दोस्तों।
你好，世界。猫在家里睡觉，狗在花园里玩。非常感谢，我的朋友们。今天天气很好。
こんにちは、世界。猫は家で寝ていて、犬は庭で遊んでいます。ありがとうございます。
안녕하세요, 세계. 고양이는 집에서 자고 개는 정원에서 놀고 있어요. 정말 감사합니다.
สวัสดีชาวโลก แมวนอนอยู่ในบ้าน และสุนัขเล่นอยู่ในสวน ขอบคุณมากเพื่อนๆ
Emoji: 🙂 😀 🤖 ❤️ 👍🏽 🇫🇷 👨‍👩‍👧‍👦 🏳️‍🌈 — and dashes – em — en, «quotes», „Anführung“.
"""

_BASE = [
    # Latin with accents, compatibility and case
    "café naïve Über façade",
    "résumé coöperate Ångström Øre Łódź",
    "crème brûlée à la São Paulo",
    "e\u0301 versus \u00e9: decomposed and composed",
    "ﬁne ﬂow ﬀ ligatures",
    "Ⅻ ½ ² ³ ™ № compatibility",
    "ǅungla ǈ ǋ titlecase letters",
    "İstanbul ıi İI dotted and dotless",
    "STRASSE straße Maße",
    "ΣΊΣΥΦΟΣ ΟΔΟΣ final sigma",
    "ＡＢＣ１２３ fullwidth ｶﾀｶﾅ halfwidth",
    "ŉ Ǆ ǲ ẞ odd letters",
    # Greek, Cyrillic
    "Καλημέρα κόσμε!",
    "Η γάτα κοιμάται στο σπίτι.",
    "ΑΒΓΔΕ αβγδε ΆΈΉΊΌ",
    "Привет, мир!",
    "Кошка спит на диване, а собака играет.",
    "ЁЖИК ёжик Ёлка",
    "Съешь же ещё этих мягких французских булок.",
    # Arabic, Devanagari
    "مرحبا بالعالم",
    "القطة نائمة في البيت.",
    "الأرقام: ٠١٢٣٤٥٦٧٨٩",
    "نص عربي with English في الوسط",
    "नमस्ते दुनिया",
    "बिल्ली घर में सो रही है।",
    "संख्या: ०१२३४५६७८९",
    "हिन्दी और English मिश्रित",
    # CJK, Thai
    "你好，世界。",
    "猫在家里睡觉，狗在花园里玩。",
    "こんにちは、世界。",
    "カタカナとひらがなと漢字",
    "안녕하세요, 세계.",
    "고양이는 집에서 자고 있어요.",
    "中文English混合123测试",
    "日本語のテキスト、句読点。",
    "สวัสดีชาวโลก",
    "แมวนอนอยู่ในบ้าน",
    "ตัวเลขไทย ๐๑๒๓๔๕",
    "ภาษาไทยและEnglish",
    # emoji and ZWJ sequences
    "👨‍👩‍👧‍👦 family",
    "🏳️‍🌈 flag",
    "👍🏽👍🏿 skin tones",
    "🇫🇷🇯🇵🇺🇸 flags",
    "I ❤️ NY",
    "😀😃😄😁",
    "a🙂b",
    "🤖: beep boop",
    "1️⃣ keycap #️⃣",
    "❤️‍🔥 heart on fire",
    # contractions
    "I'm here",
    "I'M HERE",
    "you're right, YOU'RE RIGHT",
    "we've been, WE'VE BEEN",
    "she'll go, SHE'LL GO",
    "he'd say, HE'D SAY",
    "it's fine, IT'S FINE, It'S",
    "don't can't won't",
    "DON'T CAN'T WON'T",
    "'s't'T'S'",
    "rock 'n' roll",
    "O'Neil's dog's bone",
    "it’s curly ’s",
    "the 'ſ long s",
    "''double quotes''",
    "'ll'LL'Ll'lL",
    "'re'Re're",
    # whitespace
    "a  b",
    "a   b    c",
    "   leading spaces",
    "trailing spaces   ",
    "     ",
    " ",
    "\t\tx\ty",
    "a\nb",
    "a\n\nb",
    "\n\n\n",
    "line\r\nwindows\r\n",
    "a \n b",
    " \n ",
    "\t \n \t",
    "a\u00a0b no-break",
    "a\u3000b ideographic",
    "a\u2003b em space",
    "a\u180eb mongolian vowel separator",
    "a\u0085b next line",
    "a\u2028b line separator",
    "a\u200bb zero width",
    "x \t\n",
    "",
    "word\n",
    "\nword",
    "tab\tseparated\tvalues\t1\t2",
    "  two\n  indented\n    lines",
    # numbers
    "1",
    "12",
    "123",
    "1234",
    "12345",
    "123456789",
    "3.14159",
    "1,000,000",
    "2024-01-15",
    "+1 (555) 123-4567",
    "0x1F 0b1010 0o17",
    "1e-10 6.02e23",
    "12345678901234567890",
    "٣٤٥ Arabic-Indic",
    "१२३ Devanagari",
    "①②③ circled",
    "½¾⅓ fractions",
    "१२३४५ 12345 ๑๒๓",
    "v1.2.3-beta",
    "$1,234.56",
    # code, punctuation, markup
    "def f(x): return x**2",
    "if (a && b) { c++; }",
    "https://example.com/a?b=c&d=e",
    "user@example.com",
    "#hashtag @mention",
    "C:\\Windows\\path",
    "<html><body>Hi</body></html>",
    "JSON: {\"a\": [1, 2]}",
    "...!!!???",
    "—–- dashes",
    "«quotes» „German“ “English”",
    "¿Qué? ¡Sí!",
    "$100 €50 £30 ¥20",
    "a+b=c",
    "~`^|",
    "snake_case_name",
    "CamelCaseName",
    "ALLCAPS",
    "mIxEd CaSe",
    "x_1 + y_2",
    "...",
    "!",
    "a.b.c",
    "(parenthesized) [bracketed] {braced}",
    "100%",
    "e.g. i.e. etc.",
    # special tokens and chat formats of the families (matched where the file lists them)
    "<|begin_of_text|>Hello",
    "Hi<|eot_id|>",
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "<|begin_of_text|><|begin_of_text|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    "<|im_start|>assistant\n",
    "<|im_start|>user\n2+2?<|im_end|>",
    "<think>\nLet me think.\n</think>\n\nThe answer is 4.",
    "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜><think>\n",
    "<｜User｜>What is 7*6?<｜Assistant｜>42<｜end▁of▁sentence｜>",
    "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
    "<s>[INST] Hello [/INST]",
    "[INST]Hello[/INST] answer</s>",
    "a <s> b </s> c",
    "<s><s></s>",
    "<|im_start|><|im_end|>",
    "<unk> <pad> <mask>",
    "<|endoftext|>text<|endoftext|>",
    "partial <|im_start and <|im_end|>>",
    "<<|im_end|>",
    "<extra_id_0> fills <extra_id_1>.",
    "<0x41> literal byte piece",
    "▁leading meta ▁▁",
    "Ġ literal G-dot Ċ",
    "word<tool_call>{\"name\": \"f\"}</tool_call>",
    "x<think>y</think>z",
    "Thinking: <think> with spaces </think> done",
    "[INST]   spaced   [/INST]",
    "tail [INST]",
    "<mask>word",
    "in<mask>side",
    "<start_of_turn>model\n\t\tindented<end_of_turn>",
    # longer mixed text
    "The café served 12 crêpes to 3 Καλημέρα-saying guests.",
    "Москва — столица России; Paris is the capital of France.",
    "数字123和字母abc混在一起",
    "मैं 25 साल का हूँ and I'm 25 years old.",
    "Mixing: English, Ελληνικά, Русский, العربية, हिन्दी, 中文, 日本語, 한국어, ไทย.",
    "Tabs\tand\nnewlines\r\nand  spaces   everywhere",
    "Email me at pip@clock.example — or call +44 20 7946 0958!",
    "She said: \"I can't believe it's already 2024!\"",
    "Price: 12.99€ (incl. 19% VAT) → total 15.46€",
    "🤖 Pip's 1st clock: 1,024 gears, 3 springs & 1 ❤️",
    # Unicode versions: HF's tables against GLib's and PCRE2's
    "\ufb46\u0d3b reorder after a Unicode 10 sign",
    "\u0d00 \u1cf3 \U00011833 marks HF does not strip",
    "\u166d \u061d \u2e4f punctuation HF does not split",
    "\U0001fbf1\U0001fbf2 segmented digits",
    "\U00011f04\U00011f05 Kawi, \U00010d50\U00010d70 Garay, \U00010d41\U00010d42 digits",
    "\U0002ebf0\U0002ebf1 CJK extension I \U00031350",
]


def texts():
    """The base list plus generated runs: digit strings of every length 1..24, space and
    newline runs between words, and each contraction in each case."""
    out = list(_BASE)
    digits = "12345678901234567890123456789"
    out += [digits[:n] for n in range(1, 25) if digits[:n] not in out]
    out += [f"word{' ' * n}next" for n in range(2, 9)]
    out += [f"end{chr(10) * n}start" for n in range(2, 6)]
    out += [f"x{' ' * n}\n{' ' * n}y" for n in range(1, 4)]
    for c in ["s", "t", "re", "ve", "m", "ll", "d"]:
        out.append(f"they'{c} THEY'{c.upper()}")
    seen = set()
    unique = []
    for t in out:
        if t not in seen:
            seen.add(t)
            unique.append(t)
    return unique
