#!/usr/bin/env python3
"""Generate eval/corpus.jsonl: a labelled corpus that looks like coding-agent traffic.

    python3 eval/generate.py            # writes eval/corpus.jsonl (deterministic)
    python3 eval/generate.py --check    # regenerates in memory, fails if the file differs

Python 3 standard library only. Every label is made by construction: a value is
inserted into a document and its UTF-8 byte span recorded; the scanner under test
is never consulted. Before writing, every document is checked:

* each label's bytes are exactly the inserted value, and the value is valid for its
  kind (Luhn and brand for cards, country length and mod-97 for IBANs, issued ranges
  for SSNs, a public address for IPs, the family's format for secrets);
* each recorded look-alike is really not an instance (a Luhn-invalid number, a
  never-issued SSN, a private or documentation address, ...);
* an independent oracle (simple regexes plus the checksums) scans the whole text,
  and every e-mail-, card-, IBAN-, SSN-, IPv4- or known-secret-shaped string it
  finds must be a label or a recorded look-alike, so nothing valid slips in unlabelled.

The label conventions are in eval/README.md.
"""

import argparse
import collections
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen_breadth  # noqa: E402
import gen_docs  # noqa: E402
from gen_values import Ann, card_brand, iban_ok, IBAN_LEN, ip_public, luhn_ok, ssn_ok  # noqa: E402

SEED = 20250611
DEFAULT_DOCS = 3000
HERE = os.path.dirname(os.path.abspath(__file__))
LANGS = ["en", "de", "fr", "es", "ja", "zh", "ru", "ar", "pt"]
LANG_WEIGHTS = [40, 10, 9, 8, 8, 7, 7, 5, 6]
CODE_LANG_WEIGHTS = [70, 6, 5, 4, 4, 3, 4, 1, 3]
CODE_SOURCES = {"python-source", "js-source", "code", "env-file", "yaml", "shell", "config", "json", "stack-trace",
                "log", "sql", "git-log"}


def assemble(items):
    """(text, labels, negatives) of a tree of items."""
    parts = []
    pos = [0]
    labels, negs = [], []

    def walk(x):
        if isinstance(x, str):
            parts.append(x)
            pos[0] += len(x.encode("utf-8"))
        elif isinstance(x, Ann):
            start = pos[0]
            walk(x.items)
            end = pos[0]
            if x.kind:
                lab = {"kind": x.kind, "start": start, "end": end, "family": x.family}
                if x.optional:
                    lab["optional"] = True
                labels.append((lab, x))
            else:
                negs.append(({"category": x.neg, "looks_like": x.looks, "start": start, "end": end}, x))
        elif isinstance(x, (list, tuple)):
            for i in x:
                walk(i)
        else:
            raise TypeError(repr(x))

    walk(items)
    return "".join(parts), labels, negs


# ---------------------------------------------------------------- validation

SECRET_FORMATS = {
    "aws-access-key-id": r"(AKIA|ASIA)[A-Z2-7]{16}",
    "aws-secret-key": r"[A-Za-z0-9/+]{40}",
    "aws-session-token": r"IQoJb3JpZ2luX2Vj[A-Za-z0-9/+=]{200,}",
    "github-token": r"gh[pousr]_[A-Za-z0-9]{36}",
    "github-fine-grained-pat": r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
    "gitlab-token": r"gl(pat|ptt|dt)-[A-Za-z0-9_-]{20}",
    "slack-token": r"xox[bp]-[0-9]{10,13}-[0-9]{10,13}(-[0-9]{10,13})?-[A-Za-z0-9]{24,32}",
    "slack-webhook": r"https://hooks\.slack\.com/services/T[A-Z0-9]{8}/B[A-Z0-9]{10}/[A-Za-z0-9]{24}",
    "stripe-key": r"[sr]k_live_[A-Za-z0-9]{24,99}",
    "sendgrid": r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
    "twilio-auth-token": r"[0-9a-f]{32}",
    "openai-key": r"sk-(proj-|svcacct-)?[A-Za-z0-9_-]{20,74}T3BlbkFJ[A-Za-z0-9_-]{20,74}",
    "anthropic-key": r"sk-ant-api03-[A-Za-z0-9_-]{93}AA",
    "google-api-key": r"AIza[A-Za-z0-9_-]{35}",
    "npm-token": r"npm_[A-Za-z0-9]{36}",
    "pypi-token": r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{100,}",
    "hf-token": r"hf_[A-Za-z]{34}",
    "azure-storage-key": r"[A-Za-z0-9/+]{86}==",
    "telegram-bot-token": r"[0-9]{8,10}:AA[A-Za-z0-9_-]{33}",
    "jwt": r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43,}",
    "db-url-password": r"[A-Za-z0-9._~!*-]{8,}",
    "url-password": r"[A-Za-z0-9._~!*-]{8,}",
    "password-assignment": r"[^\s\"'`\\#]{8,}",
    "private-key-pem": r"-----BEGIN (RSA |EC )?PRIVATE KEY-----(\n|\\n)[A-Za-z0-9/+=\n\\]+-----END (RSA |EC )?PRIVATE KEY-----",
    "openssh-private-key": r"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE[A-Za-z0-9/+=\n]+-----END OPENSSH PRIVATE KEY-----",
    **gen_breadth.FORMATS,
}
PHONE_CHARS = re.compile(r"[+(]?[0-9][0-9 ()./-]*[0-9]")
EMAIL_SHAPE = re.compile(r"[^\s@<>\"',;]+@[^\s@<>\"',;]+\.[^\s@<>\"',;.]{2,}")


def validate_label(lab, value):
    k, fam = lab["kind"], lab["family"]
    if k == "email":
        assert EMAIL_SHAPE.fullmatch(value), value
    elif k == "phone":
        assert PHONE_CHARS.fullmatch(value), value
        n = sum(ch.isdigit() for ch in value)
        assert 9 <= n <= 15, value
    elif k == "card":
        d = value.replace(" ", "").replace("-", "")
        assert d.isdigit() and luhn_ok(d) and card_brand(d), value
        assert fam == "test-number" or card_brand(d) == fam, (value, fam)
    elif k == "iban":
        assert iban_ok(value) and value.replace(" ", "")[:2] == fam, value
    elif k == "ssn":
        assert ssn_ok(value), value
    elif k == "ip":
        assert ip_public(value), value
    elif k == "secret":
        assert re.fullmatch(SECRET_FORMATS[fam], value), (fam, value)
    else:
        assert value.strip() == value and value, (k, value)


def validate_negative(neg, value):
    cat, looks = neg["category"], neg["looks_like"]
    if cat == "luhn-invalid-number":
        d = value.replace(" ", "").replace("-", "")
        assert not luhn_ok(d), value
    elif cat == "numeric-id":
        assert not (card_brand(value) and luhn_ok(value)), value
    elif cat == "iban-bad-checksum":
        assert not iban_ok(value), value
    elif cat == "ssn-never-issued":
        assert not ssn_ok(value), value
    elif cat in ("private-or-reserved-ip", "documentation-ip"):
        assert not ip_public(value), value
    assert value, neg


# ---------------------------------------------------------------- oracle

OR_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
OR_RUN = re.compile(r"(?<![\w.])[0-9]+(?:([ -])[0-9]+(?:\1[0-9]+)*)?(?![\w])")
OR_DIGITS = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")
OR_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){8,32}")
OR_IPV4 = re.compile(r"(?<![0-9.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9])")
OR_SSN = re.compile(r"(?<![0-9-])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![0-9-])")
OR_SECRET = re.compile(
    r"(?:AKIA|ASIA)[A-Z2-7]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_\w{20,}|glpat-[\w-]{20}|xox[bpas]-[0-9]+-|"
    r"[sr]k_live_[A-Za-z0-9]{20,}|SG\.[\w-]{22}\.[\w-]{43}|sk-ant-api|T3BlbkFJ|AIza[\w-]{35}|npm_[A-Za-z0-9]{36}|"
    r"pypi-AgEI|hf_[A-Za-z]{34}|eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+|-----BEGIN [A-Z ]*PRIVATE KEY-----|hooks\.slack\.com/services/"
)


def oracle_hits(text):
    """(kind, byte span, value) of every valid-looking instance the oracle finds."""
    b = text.encode("utf-8")
    char_to_byte = None
    hits = []

    def span(m):
        nonlocal char_to_byte
        if char_to_byte is None:
            char_to_byte = [0]
            for ch in text:
                char_to_byte.append(char_to_byte[-1] + len(ch.encode("utf-8")))
        return char_to_byte[m.start()], char_to_byte[m.end()]

    for m in OR_EMAIL.finditer(text):
        hits.append(("email", span(m), m.group()))
    for m in OR_RUN.finditer(text):
        d = re.sub(r"[ -]", "", m.group())
        if 13 <= len(d) <= 19 and card_brand(d) and luhn_ok(d):
            hits.append(("card", span(m), m.group()))
    for m in OR_DIGITS.finditer(text):
        d = m.group()
        if card_brand(d) and luhn_ok(d):
            hits.append(("card", span(m), d))
    for m in OR_IBAN.finditer(text):
        s = m.group()
        n = IBAN_LEN.get(s[:2])
        if not n:
            continue
        compact = ""
        for i, ch in enumerate(s):
            if ch != " ":
                compact += ch
            if len(compact) == n:
                if iban_ok(compact):
                    st, _ = span(m)
                    hits.append(("iban", (st, st + len(s[:i + 1].encode())), s[:i + 1]))
                break
    for m in OR_IPV4.finditer(text):
        try:
            if ip_public(m.group()):
                hits.append(("ip", span(m), m.group()))
        except ValueError:
            pass
    for m in OR_SSN.finditer(text):
        if ssn_ok(m.group()):
            hits.append(("ssn", span(m), m.group()))
    for m in OR_SECRET.finditer(text):
        hits.append(("secret", span(m), m.group()))
    assert b  # keep the bytes alive for debugging
    return hits


def overlaps(a, b):
    return a[0] < b[1] and b[0] < a[1]


def check_doc(text, labels, negs):
    raw = text.encode("utf-8")
    for lab, ann in labels:
        value = raw[lab["start"]:lab["end"]].decode("utf-8")
        from gen_values import flat
        assert value == flat(ann.items), (value, flat(ann.items))
        validate_label(lab, value)
    for neg, ann in negs:
        value = raw[neg["start"]:neg["end"]].decode("utf-8")
        validate_negative(neg, value)
    spans = [(l["start"], l["end"]) for l, _ in labels] + [(n["start"], n["end"]) for n, _ in negs]
    for kind, sp, value in oracle_hits(text):
        ok = any(l["kind"] == kind and overlaps(sp, (l["start"], l["end"])) for l, _ in labels)
        ok = ok or any(n["looks_like"] == kind and overlaps(sp, (n["start"], n["end"])) for n, _ in negs)
        ok = ok or any(s[0] <= sp[0] and sp[1] <= s[1] for s in spans)
        if not ok:
            raise AssertionError(f"unlabelled {kind} {value!r} in:\n{text}")


# ---------------------------------------------------------------- main

def generate(n_docs, seed=SEED):
    rng = random.Random(seed)
    sources = gen_docs.BUILDERS
    docs = []
    for i in range(n_docs):
        source, builder, _ = rng.choices(sources, [s[2] for s in sources])[0]
        weights = CODE_LANG_WEIGHTS if source in CODE_SOURCES else LANG_WEIGHTS
        lang = rng.choices(LANGS, weights)[0]
        items = builder(gen_docs.Ctx(rng, lang))
        text, labels, negs = assemble(items)
        check_doc(text, labels, negs)
        if source == "json":
            json.loads(text)  # the JSON documents must be valid JSON
        docs.append(document(i, source, lang, text, labels, negs))
    # The breadth section: every credential format of gen_breadth, after the
    # documents above, from a random stream of its own (adding a format does not
    # change the documents before it).
    breadth_rng = random.Random(f"{seed}-breadth")
    for source, items in gen_breadth.documents(breadth_rng):
        text, labels, negs = assemble(items)
        check_doc(text, labels, negs)
        docs.append(document(len(docs), source, "en", text, labels, negs))
    return docs


def document(i, source, lang, text, labels, negs):
    return {
        "id": f"{i:05d}-{source}",
        "source": source,
        "lang": lang,
        "text": text,
        "labels": [l for l, _ in labels],
        "negatives": [n for n, _ in negs],
    }


def serialise(docs):
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)


def stats(docs, data):
    kinds = collections.Counter()
    opt = collections.Counter()
    negs = collections.Counter()
    srcs = collections.Counter(d["source"] for d in docs)
    langs = collections.Counter(d["lang"] for d in docs)
    for d in docs:
        for l in d["labels"]:
            (opt if l.get("optional") else kinds)[l["kind"]] += 1
        for n in d["negatives"]:
            negs[n["looks_like"] + ":" + n["category"]] += 1
    out = [f"{len(docs)} documents, {len(data.encode('utf-8'))} bytes in the file, "
           f"{sum(len(d['text'].encode('utf-8')) for d in docs)} bytes of text"]
    out.append("labels: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    out.append("optional labels: " + ", ".join(f"{k} {v}" for k, v in sorted(opt.items())))
    out.append(f"negatives (look-alikes): {sum(negs.values())}: " + ", ".join(f"{k} {v}" for k, v in sorted(negs.items())))
    out.append("sources: " + ", ".join(f"{k} {v}" for k, v in sorted(srcs.items())))
    out.append("languages: " + ", ".join(f"{k} {v}" for k, v in sorted(langs.items())))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=DEFAULT_DOCS, help="number of documents (default %(default)s)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", default=os.path.join(HERE, "corpus.jsonl"))
    ap.add_argument("--check", action="store_true", help="fail if --out differs from a fresh generation")
    ap.add_argument("--stats", action="store_true", help="print corpus statistics")
    args = ap.parse_args()
    docs = generate(args.docs, args.seed)
    data = serialise(docs)
    if args.check:
        with open(args.out, encoding="utf-8") as f:
            same = f.read() == data
        print("corpus is up to date" if same else f"{args.out} differs from a fresh generation")
        sys.exit(0 if same else 1)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(data)
    print(f"wrote {args.out}")
    print(stats(docs, data))


if __name__ == "__main__":
    main()
