#!/usr/bin/env python3
"""Score sluice's guardrails (and, optionally, Presidio and detect-secrets) on eval/corpus.jsonl.

    python3 eval/score.py                                  # sluice only, markdown table
    python3 eval/score.py --show 10                        # plus the worst false positives / negatives
    python3 eval/score.py --presidio --detect-secrets      # side by side with the competitors
    python3 eval/score.py --json > result.json             # machine-readable
    python3 eval/score.py --min 0.97                       # exit 1 if a present kind is below 0.97

Matching: a finding matches a label when the kinds agree and the byte spans overlap;
each label is matched at most once (exact-span pairs first, then by largest overlap).
A finding that overlaps only labels already matched by another finding is a
*duplicate* (a split span): reported, but neither a TP nor an FP. A finding that
overlaps an *optional* label (an ambiguous case, see README) and no other label is
ignored, and an unmatched optional label is not a miss. Everything else is an FP;
unmatched labels are FNs. Kinds that no plugin of the tool reports score as zero
findings (recall 0, precision n/a) and are marked "not built in".

Python 3 standard library only; the competitors are imported only when asked for.
"""

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# What each built-in plugin reports (kinds), so a plugin that is present but found
# nothing still counts as present, and kinds of absent plugins read "not built in".
PLUGIN_KINDS = {
    "pii": ["email", "phone", "card", "iban", "ssn", "ip"],
    "secrets": ["secret"],
    "content-filter": ["profanity", "hate", "violence", "self-harm", "sexual", "prompt-injection", "hidden-text"],
}
KIND_ORDER = ["email", "phone", "card", "iban", "ssn", "ip", "secret", "prompt-injection", "hidden-text",
              "profanity", "hate", "violence", "self-harm", "sexual"]
PRESIDIO_MAP = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "card", "IBAN_CODE": "iban",
                "US_SSN": "ssn", "IP_ADDRESS": "ip"}
DS_EXT = {"python-source": ".py", "js-source": ".js", "code": ".go", "env-file": ".env", "yaml": ".yaml",
          "json": ".json", "sql": ".sql", "shell": ".sh", "config": ".cfg", "markdown": ".md", "log": ".log",
          "csv": ".csv", "chat": ".txt", "stack-trace": ".txt", "git-log": ".txt", "email": ".eml"}


# ---------------------------------------------------------------- running the tools

def load_corpus(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def run_sluice(docs, binary, phase, config=None, repeat=1):
    """Findings per doc id, wall seconds (median of `repeat` runs), version and present kinds."""
    if not os.path.exists(binary):
        raise SystemExit(f"sluice binary not found: {binary} (build it with `cargo build --release` or pass --sluice)")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    listing = subprocess.run([binary, "plugin", "list"], capture_output=True, text=True).stdout
    plugins = [line.split()[0] for line in listing.splitlines() if line.strip()]
    cmd = [binary, "scan", "--jsonl", "--phase", phase]
    if config:
        cmd += ["--config", config]
    data = "".join(json.dumps({"id": d["id"], "text": d["text"]}, ensure_ascii=False) + "\n" for d in docs).encode("utf-8")
    walls = []
    proc = None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, input=data, capture_output=True)
        walls.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise SystemExit(f"sluice scan failed ({p.returncode}):\n{p.stderr.decode(errors='replace')}")
        if proc is None:
            proc = p
        elif p.stdout != proc.stdout:
            raise SystemExit("sluice gave different findings on two runs over the same corpus")
    wall = sorted(walls)[len(walls) // 2]
    findings = {}
    failures = []
    for line in proc.stdout.decode("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        failures += [(row["id"], f) for f in row.get("failures", [])]
        findings[row["id"]] = [{"kind": f["kind"], "start": f["start"], "end": f["end"], "rule": f.get("rule", "")}
                               for f in row.get("findings", [])]
    if failures:
        shown = "\n".join(f"  {doc}: {f.get('plugin')}: {f.get('failure')}: {f.get('message', '')[:200]}" for doc, f in failures[:5])
        raise SystemExit(f"a plugin failed on {len(failures)} documents, so the scores would be wrong:\n{shown}")
    missing = [d["id"] for d in docs if d["id"] not in findings]
    if missing:
        raise SystemExit(f"sluice returned no result for {len(missing)} documents, e.g. {missing[:3]}")
    present = set()
    for p in plugins:
        present.update(PLUGIN_KINDS.get(p, []))
    for fs in findings.values():
        present.update(f["kind"] for f in fs)
    note = f"{version}; plugins: {', '.join(plugins) or 'none'}; wall clock = median of {len(walls)} runs, process start included"
    return findings, wall, note, present


def char_to_byte_table(text):
    table = [0]
    for ch in text:
        table.append(table[-1] + len(ch.encode("utf-8")))
    return table


def run_presidio(docs, model=None, threshold=0.0):
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError as e:
        return None, f"not importable ({e}); install with `pip install presidio-analyzer`"
    tmp = None
    if model is None:
        for candidate in ("en_core_web_lg", "en_core_web_md", "en_core_web_sm"):
            if spacy.util.is_package(candidate):
                model = candidate
                break
    if model is None or model == "blank":
        # No trained pipeline installed (they download from GitHub, which may be unreachable):
        # a blank English pipeline (tokenizer only). The six pattern recognizers scored here
        # (e-mail, phone, card, IBAN, SSN, IP) do not use the NER model; it only feeds the
        # spaCy recognizer (PERSON, LOCATION, ...) and context words, which cannot lift a
        # result above a threshold of 0. Throughput is therefore an upper bound.
        tmp = tempfile.mkdtemp(prefix="presidio-blank-")
        spacy.blank("en").to_disk(tmp)
        model_used, model = "blank:en (tokenizer only, no NER)", tmp
    else:
        model_used = model
    import logging
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    provider = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy",
                                                    "models": [{"lang_code": "en", "model_name": model}]})
    t_init = time.perf_counter()
    try:
        analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"],
                                  default_score_threshold=threshold)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    init = time.perf_counter() - t_init
    entities = list(PRESIDIO_MAP)
    findings = {}
    t0 = time.perf_counter()
    for d in docs:
        results = analyzer.analyze(text=d["text"], language="en", entities=entities)
        table = char_to_byte_table(d["text"])
        findings[d["id"]] = [{"kind": PRESIDIO_MAP[r.entity_type], "start": table[r.start], "end": table[r.end],
                              "rule": f"{r.entity_type}:{r.score:.2f}"} for r in results]
    wall = time.perf_counter() - t0
    import presidio_analyzer
    ver = getattr(presidio_analyzer, "__version__", None)
    if not ver:
        try:
            from importlib.metadata import version
            ver = version("presidio-analyzer")
        except Exception:
            ver = "?"
    note = f"presidio-analyzer {ver}, spaCy model {model_used}, score threshold {threshold}, engine start {init:.1f}s (not in wall)"
    return (findings, wall, note, set(PRESIDIO_MAP.values())), None


def find_token(line, value, start):
    """Where `value` occurs in `line` from `start`, preferring an occurrence that is not
    part of a longer word (detect-secrets reports `password` for `password_field = "password"`)."""
    first, at = -1, line.find(value, start)
    while at >= 0:
        if first < 0:
            first = at
        before = line[at - 1:at]
        after = line[at + len(value):at + len(value) + 1]
        if not re.match(rb"[A-Za-z0-9_]", before) and not re.match(rb"[A-Za-z0-9_]", after):
            return at
        at = line.find(value, at + 1)
    return first


def run_detect_secrets(docs):
    try:
        from detect_secrets.core.scan import scan_file
        from detect_secrets.settings import default_settings
        import detect_secrets
    except ImportError as e:
        return None, f"not importable ({e}); install with `pip install detect-secrets`"
    tmp = tempfile.mkdtemp(prefix="ds-corpus-")
    paths = {}
    for i, d in enumerate(docs):
        p = os.path.join(tmp, f"doc{i:05d}{DS_EXT.get(d['source'], '.txt')}")
        with open(p, "w", encoding="utf-8", newline="\n") as f:
            f.write(d["text"])
        paths[d["id"]] = p
    findings = {}
    t0 = time.perf_counter()
    with default_settings():
        for d in docs:
            raw = d["text"].encode("utf-8")
            lines = raw.split(b"\n")
            starts = [0]
            for ln in lines:
                starts.append(starts[-1] + len(ln) + 1)
            out = []
            used = collections.defaultdict(int)
            for s in scan_file(paths[d["id"]]):
                ln = s.line_number - 1
                line = lines[ln] if 0 <= ln < len(lines) else b""
                value = (s.secret_value or "").encode("utf-8")
                at = find_token(line, value, used[(ln, value)]) if value else -1
                if at >= 0:
                    used[(ln, value)] = at + 1
                    start, end = starts[ln] + at, starts[ln] + at + len(value)
                else:  # value not on the line: the whole line
                    start, end = starts[ln], starts[ln] + len(line)
                out.append({"kind": "secret", "start": start, "end": end, "rule": s.type})
            findings[d["id"]] = out
    wall = time.perf_counter() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        from importlib.metadata import version
        ver = version("detect-secrets")
    except Exception:
        ver = getattr(detect_secrets, "__version__", "?")
    note = f"detect-secrets {ver}, default plugins and filters, one file per document named by its source type"
    return (findings, wall, note, {"secret"}), None


# ---------------------------------------------------------------- matching

def overlap(a0, a1, b0, b1):
    return max(0, min(a1, b1) - max(a0, b0))


def match_doc(doc, findings):
    """Per kind: list of events (tp/fp/fn/dup/opt) with details."""
    events = []
    labels = doc["labels"]
    by_kind = collections.defaultdict(list)
    for i, f in enumerate(findings):
        by_kind[f["kind"]].append(i)
    label_kinds = collections.defaultdict(list)
    for j, l in enumerate(labels):
        label_kinds[l["kind"]].append(j)
    for kind in set(by_kind) | set(label_kinds):
        fids = by_kind.get(kind, [])
        lids = [j for j in label_kinds.get(kind, []) if not labels[j].get("optional")]
        oids = [j for j in label_kinds.get(kind, []) if labels[j].get("optional")]
        matched = {}  # label -> finding
        used = set()
        # exact spans first
        for i in fids:
            f = findings[i]
            for j in lids:
                if j not in matched and labels[j]["start"] == f["start"] and labels[j]["end"] == f["end"]:
                    matched[j] = i
                    used.add(i)
                    break
        # then largest overlap
        for i in sorted(set(fids) - used, key=lambda i: (findings[i]["start"], findings[i]["end"])):
            f = findings[i]
            best, best_ov = None, 0
            for j in lids:
                if j in matched:
                    continue
                ov = overlap(f["start"], f["end"], labels[j]["start"], labels[j]["end"])
                if ov > best_ov:
                    best, best_ov = j, ov
            if best is not None:
                matched[best] = i
                used.add(i)
        for i in fids:
            if i in used:
                continue
            f = findings[i]
            if any(overlap(f["start"], f["end"], labels[j]["start"], labels[j]["end"]) for j in lids):
                events.append(("dup", kind, f, None))
            elif any(overlap(f["start"], f["end"], labels[j]["start"], labels[j]["end"]) for j in oids):
                events.append(("opt", kind, f, None))
            else:
                events.append(("fp", kind, f, None))
        for j in lids:
            if j in matched:
                f = findings[matched[j]]
                exact = f["start"] == labels[j]["start"] and f["end"] == labels[j]["end"]
                events.append(("tp", kind, f, labels[j], exact))
            else:
                events.append(("fn", kind, None, labels[j]))
    return events


def fp_category(doc, f):
    """Why a false positive happened: the look-alike it hit, or the label of another kind it sits in."""
    best = None
    for n in doc.get("negatives", []):
        if overlap(f["start"], f["end"], n["start"], n["end"]):
            cand = (n["looks_like"] == f["kind"], n["end"] - n["start"])
            if best is None or cand > best[0]:
                best = (cand, n["category"])
    if best:
        return best[1]
    for l in doc["labels"]:
        if overlap(f["start"], f["end"], l["start"], l["end"]):
            return f"inside a {l['kind']} label ({l['family']})"
    return "unlisted"


def score(docs, findings, present):
    kinds = collections.OrderedDict((k, collections.Counter()) for k in KIND_ORDER)
    families = collections.defaultdict(lambda: collections.defaultdict(collections.Counter))
    fp_cats = collections.defaultdict(collections.Counter)
    examples = collections.defaultdict(list)  # (kind, 'fp'|'fn', group) -> [(doc, span, rule)]
    other = collections.Counter()
    for d in docs:
        for ev in match_doc(d, findings.get(d["id"], [])):
            what, kind = ev[0], ev[1]
            if kind not in kinds:
                kinds[kind] = collections.Counter()
                other[kind] += 1
            c = kinds[kind]
            c[what] += 1
            if what == "tp":
                c["exact"] += ev[4]
                families[kind][ev[3]["family"]]["tp"] += 1
            elif what == "fn":
                families[kind][ev[3]["family"]]["fn"] += 1
                examples[(kind, "fn", ev[3]["family"])].append((d, (ev[3]["start"], ev[3]["end"]), ""))
            elif what == "fp":
                cat = fp_category(d, ev[2])
                fp_cats[kind][cat] += 1
                examples[(kind, "fp", cat)].append((d, (ev[2]["start"], ev[2]["end"]), ev[2].get("rule", "")))
    rows = collections.OrderedDict()
    for kind, c in kinds.items():
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        if tp + fn + fp == 0 and kind not in present:
            continue
        rows[kind] = {
            "present": kind in present, "labels": tp + fn, "tp": tp, "fp": fp, "fn": fn, "dup": c["dup"],
            "optional_hits": c["opt"],
            "precision": (tp / (tp + fp)) if tp + fp else None,
            "recall": (tp / (tp + fn)) if tp + fn else None,
            "exact_span": (c["exact"] / tp) if tp else None,
        }
    fams = {k: {f: {"tp": v["tp"], "fn": v["fn"], "recall": v["tp"] / (v["tp"] + v["fn"])}
                for f, v in sorted(fs.items())} for k, fs in families.items()}
    return {"kinds": rows, "families": fams, "fp_categories": {k: dict(v.most_common()) for k, v in fp_cats.items()}}, examples


# ---------------------------------------------------------------- printing

def fmt(x):
    return "n/a" if x is None else f"{x:.3f}"


def markdown_table(name, res, note, wall, nbytes):
    out = [f"### {name}", "", f"{note}; {nbytes / 1e6:.2f} MB of text in {wall:.2f} s = **{nbytes / 1e6 / wall:.2f} MB/s**"
           if wall else note, "",
           "| kind | labels | TP | FP | FN | precision | recall | exact span | split dup |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind, r in res["kinds"].items():
        tag = "" if r["present"] else " (not built in)"
        out.append(f"| {kind}{tag} | {r['labels']} | {r['tp']} | {r['fp']} | {r['fn']} | {fmt(r['precision'])} | "
                   f"{fmt(r['recall'])} | {fmt(r['exact_span'])} | {r['dup']} |")
    return "\n".join(out)


def family_table(res, kinds):
    out = ["| kind | family | labels | found | recall |", "|---|---|---:|---:|---:|"]
    for kind in kinds:
        for fam, v in res["families"].get(kind, {}).items():
            out.append(f"| {kind} | {fam} | {v['tp'] + v['fn']} | {v['tp']} | {v['recall']:.3f} |")
    return "\n".join(out)


INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\u00ad\ufeff\U000E0000-\U000E007F]")


def show_text(s):
    return INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", s).replace("\n", "⏎").replace("\t", "→")


def mask(s):
    return s[:4] + "…" if len(s) > 4 else s


def context(doc, span, kind, width=40):
    """The match with `width` visible characters either side; secrets masked."""
    raw = doc["text"].encode("utf-8")
    a, b = span
    left = raw[:a].decode("utf-8", errors="replace")
    mid = raw[a:b].decode("utf-8", errors="replace")
    right = raw[b:].decode("utf-8", errors="replace")
    secrets = sorted({raw[l["start"]:l["end"]].decode("utf-8") for l in doc["labels"] if l["kind"] == "secret"},
                     key=len, reverse=True)
    for s in secrets:
        left, right = left.replace(s, mask(s)), right.replace(s, mask(s))
        if kind == "secret" or s in mid:
            mid = mid.replace(s, mask(s))
    if kind == "secret":
        mid = mask(mid)
    left, mid, right = show_text(left), show_text(mid), show_text(right)
    return f"{left[-width:]}⟦{mid}⟧{right[:width]}"


def print_examples(examples, res, n, file):
    for kind in res["kinds"]:
        if not res["kinds"][kind]["present"]:
            continue
        for what, title in (("fp", "false positives"), ("fn", "false negatives")):
            groups = [(g, ex) for (k, w, g), ex in examples.items() if k == kind and w == what]
            if not groups:
                continue
            groups.sort(key=lambda x: -len(x[1]))
            total = sum(len(ex) for _, ex in groups)
            print(f"\n#### {kind}: {total} {title}, by {'look-alike' if what == 'fp' else 'family'}", file=file)
            print("; ".join(f"{g}: {len(ex)}" for g, ex in groups), file=file)
            shown = 0
            rnd = 0
            while shown < n:
                progressed = False
                for g, ex in groups:
                    if rnd < len(ex) and shown < n:
                        d, span, rule = ex[rnd]
                        print(f"- [{g}] {d['id']}: {context(d, span, kind)}" + (f"  ({rule})" if rule else ""), file=file)
                        shown += 1
                        progressed = True
                rnd += 1
                if not progressed:
                    break


def self_test(docs):
    """The matcher against the corpus itself: the labels as findings must score 1.0
    everywhere with exact spans; the look-alikes as findings must match no label."""
    all_kinds = set(KIND_ORDER)
    as_found = {d["id"]: [dict(l, rule="label") for l in d["labels"]] for d in docs}
    res, _ = score(docs, as_found, all_kinds)
    problems = [f"{k}: {r}" for k, r in res["kinds"].items()
                if r["labels"] and (r["precision"] != 1.0 or r["recall"] != 1.0 or r["exact_span"] != 1.0 or r["dup"])]
    as_found = {d["id"]: [{"kind": n["looks_like"], "start": n["start"], "end": n["end"], "rule": n["category"]}
                          for n in d["negatives"]] for d in docs}
    res, _ = score(docs, as_found, all_kinds)
    problems += [f"look-alikes matched {k} labels: {r['tp']}" for k, r in res["kinds"].items() if r["tp"]]
    for p in problems:
        print("self-test:", p, file=sys.stderr)
    print("self-test: " + ("FAILED" if problems else "ok (labels score 1.0 with exact spans; no look-alike matches a label)"))
    return not problems


def corpus_stats(docs):
    kinds = collections.Counter()
    for d in docs:
        for l in d["labels"]:
            if not l.get("optional"):
                kinds[l["kind"]] += 1
    return {"documents": len(docs), "text_bytes": sum(len(d["text"].encode("utf-8")) for d in docs),
            "labels": dict(kinds), "optional_labels": sum(1 for d in docs for l in d["labels"] if l.get("optional")),
            "negatives": sum(len(d.get("negatives", [])) for d in docs)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(HERE, "corpus.jsonl"))
    ap.add_argument("--sluice", default=os.path.join(ROOT, "target", "release", "sluice"), help="the sluice binary")
    ap.add_argument("--config", help="a sluice config file (default: every built-in plugin with its defaults)")
    ap.add_argument("--phase", default="request", choices=["request", "response"])
    ap.add_argument("--no-sluice", action="store_true", help="score only the competitors")
    ap.add_argument("--repeat", type=int, default=5, help="time sluice over this many runs, report the median (default 5)")
    ap.add_argument("--presidio", action="store_true", help="also run Presidio (if importable)")
    ap.add_argument("--presidio-model", help="spaCy model for Presidio (default: lg, md, sm if installed, else blank)")
    ap.add_argument("--presidio-threshold", type=float, default=0.0, help="Presidio score threshold (default 0)")
    ap.add_argument("--detect-secrets", action="store_true", help="also run detect-secrets (if importable)")
    ap.add_argument("--show", type=int, default=0, metavar="N", help="show N worst false positives and negatives per kind")
    ap.add_argument("--families", action="store_true", help="print recall per family for every kind (secrets always)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    ap.add_argument("--self-test", action="store_true", help="check the matcher on the corpus's own labels and exit")
    ap.add_argument("--min", type=float, metavar="X", help="exit 1 if a present sluice kind has precision or recall below X")
    args = ap.parse_args()

    docs = load_corpus(args.corpus)
    if args.self_test:
        sys.exit(0 if self_test(docs) else 1)
    stats = corpus_stats(docs)
    nbytes = stats["text_bytes"]
    runs = []  # (name, (findings, wall, note, present) | None, why-not)
    if not args.no_sluice:
        runs.append(("sluice", run_sluice(docs, args.sluice, args.phase, args.config, args.repeat), None))
    if args.presidio:
        r, why = run_presidio(docs, args.presidio_model, args.presidio_threshold)
        runs.append(("Presidio", r, why))
    if args.detect_secrets:
        r, why = run_detect_secrets(docs)
        runs.append(("detect-secrets", r, why))

    results = {"corpus": stats, "command": " ".join(["python3", "eval/score.py"] + sys.argv[1:]), "tools": {}}
    all_examples = {}
    for name, r, why in runs:
        if r is None:
            results["tools"][name] = {"error": why}
            continue
        findings, wall, note, present = r
        res, examples = score(docs, findings, present)
        res.update({"note": note, "wall_s": wall, "mb_per_s": nbytes / 1e6 / wall if wall else None})
        results["tools"][name] = res
        all_examples[name] = examples

    out = sys.stdout
    if args.json:
        if args.show:
            for name, ex in all_examples.items():
                results["tools"][name]["examples"] = {
                    f"{k}/{w}/{g}": [{"id": d["id"], "context": context(d, sp, k), "rule": rule} for d, sp, rule in v[:args.show]]
                    for (k, w, g), v in ex.items() if results["tools"][name]["kinds"].get(k, {}).get("present")}
        json.dump(results, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        s = stats
        print(f"corpus: {s['documents']} documents, {s['text_bytes'] / 1e6:.2f} MB of text, "
              f"{sum(s['labels'].values())} labels ({', '.join(f'{k} {v}' for k, v in sorted(s['labels'].items()))}), "
              f"{s['optional_labels']} optional, {s['negatives']} look-alikes\n", file=out)
        for name, r, why in runs:
            res = results["tools"][name]
            if "error" in res:
                print(f"### {name}\n\nnot run: {res['error']}\n", file=out)
                continue
            print(markdown_table(name, res, res["note"], res["wall_s"], nbytes), file=out)
            fam_kinds = [k for k in res["kinds"] if args.families or k == "secret"]
            fam_kinds = [k for k in fam_kinds if k in res["families"] and res["kinds"][k]["present"]]
            if fam_kinds:
                print("\nRecall per family:\n\n" + family_table(res, fam_kinds), file=out)
            if res["fp_categories"]:
                print("\nFalse positives by look-alike: " + "; ".join(
                    f"{k}: " + ", ".join(f"{c} {n}" for c, n in v.items()) for k, v in res["fp_categories"].items()), file=out)
            if args.show:
                print_examples(all_examples[name], res, args.show, out)
            print(file=out)
        ran = [(n, results["tools"][n]) for n, r, _ in runs if r is not None]
        if len(ran) > 1:
            print("### Side by side (precision / recall)\n", file=out)
            print("| kind | " + " | ".join(n for n, _ in ran) + " |", file=out)
            print("|---|" + "---|" * len(ran), file=out)
            kinds = [k for k in KIND_ORDER if any(k in t["kinds"] and t["kinds"][k]["present"] for _, t in ran)]
            for k in kinds:
                cells = []
                for _, t in ran:
                    r = t["kinds"].get(k)
                    cells.append(f"{fmt(r['precision'])} / {fmt(r['recall'])}" if r and r["present"] else "—")
                print(f"| {k} | " + " | ".join(cells) + " |", file=out)
            print("\n| tool | wall clock | throughput |\n|---|---:|---:|", file=out)
            for n, t in ran:
                print(f"| {n} | {t['wall_s']:.2f} s | {t['mb_per_s']:.2f} MB/s |", file=out)
            print(file=out)

    if args.min is not None and "sluice" in results["tools"] and "kinds" in results["tools"]["sluice"]:
        bad = []
        for kind, r in results["tools"]["sluice"]["kinds"].items():
            if not r["present"]:
                continue
            for metric in ("precision", "recall"):
                v = r[metric]
                if v is not None and v < args.min:
                    bad.append(f"{kind} {metric} {v:.3f}")
        if bad:
            print(f"below --min {args.min}: " + ", ".join(bad), file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
