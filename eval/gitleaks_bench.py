#!/usr/bin/env python3
"""Benchmark sluice's secrets plugin against the examples shipped with gitleaks' rules.

gitleaks keeps, next to each rule's definition (`cmd/generate/config/rules/*.go`),
true-positive texts the rule must find and false-positive texts it must not; many
are built at run time by Go helpers (`utils.GenerateSampleSecrets`, random values
from a regex). This script takes them from a fetched copy of the gitleaks
repository, the most faithful way: it compiles those rule files (unchanged) with a
small Go harness of its own in a temporary folder, in which the validation call
records the examples instead of checking them, and runs the program. Then every
example goes through `sluice scan --jsonl` with only the secrets plugin, and it
reports:

* recall: the share of true-positive examples in which sluice finds a secret,
  overall and per gitleaks rule (format), and how many were found only by
  sluice's generic (assignment) rules;
* the false-alarm rate: the share of false-positive examples in which sluice
  finds any secret.

Nothing of gitleaks is copied into this repository: the rule files are read from
the fetched repository at run time, into a temporary folder that is deleted.

    python3 eval/gitleaks_bench.py --gitleaks /path/to/gitleaks   # its git dir or work tree
    python3 eval/gitleaks_bench.py --show 5            # plus up to 5 misses and false alarms per rule
    python3 eval/gitleaks_bench.py --json              # machine-readable
    python3 eval/gitleaks_bench.py --min-recall 0.95 --max-fp 0.05   # exit 1 below the targets

Needs: git, a Go toolchain (1.19 or newer; Debian: `apt-get install golang-go`),
and a built `sluice` (`cargo build -p sluice`). No network: the harness uses only
Go's standard library (its random-value generator stands in for the third-party
one gitleaks uses, so values drawn from a regex differ from gitleaks' own, but
match the same regexes; seeded, so every run is the same).
"""

import argparse
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RULES_TOML = os.path.join(ROOT, "plugins", "secrets", "rules.toml")

GL_MODULE = "github.com/zricethezav/gitleaks/v8"
RULES_DIR = "cmd/generate/config/rules"
UTILS_FILES = ["cmd/generate/config/utils/generate.go", "cmd/generate/config/utils/patterns.go"]
BASE_FILE = "cmd/generate/config/base/config.go"
MAIN_GO = "cmd/generate/config/main.go"

# ---------------------------------------------------------------- the Go harness (ours)

HARNESS_CONFIG = """\
// Package config: the rule and allowlist types gitleaks' rule files fill in.
package config

import (
\t"regexp"
\t"strings"
)

type AllowlistMatchCondition int

const (
\tAllowlistMatchOr AllowlistMatchCondition = iota
\tAllowlistMatchAnd
)

type Allowlist struct {
\tDescription    string
\tMatchCondition AllowlistMatchCondition
\tCommits        []string
\tPaths          []*regexp.Regexp
\tRegexTarget    string
\tRegexes        []*regexp.Regexp
\tStopWords      []string
}

type Rule struct {
\tRuleID      string
\tDescription string
\tEntropy     float64
\tSecretGroup int
\tRegex       *regexp.Regexp
\tPath        *regexp.Regexp
\tTags        []string
\tKeywords    []string
\tAllowlists  []*Allowlist
\tSkipReport  bool
}

type Config struct {
\tTitle      string
\tAllowlists []*Allowlist
}

// ContainsStopWord reports whether s contains one of the stop words.
func (a *Allowlist) ContainsStopWord(s string) (bool, string) {
\ts = strings.ToLower(s)
\tfor _, w := range a.StopWords {
\t\tif strings.Contains(s, strings.ToLower(w)) {
\t\t\treturn true, w
\t\t}
\t}
\treturn false, ""
}
"""

HARNESS_RECORD = r"""
package utils

// The validation calls of the rule files record the examples; Finish prints them
// as JSON lines, each false-positive example with the other rules that report it
// (regex, secret group, entropy and the rule's own allowlists; not gitleaks'
// global allowlist).

import (
    "encoding/json"
    "math"
    "os"
    "sort"
    "strings"

    "glbench/base"
    "glbench/config"
)

type record struct {
    Rule     string     `json:"rule"`
    Tp       []string   `json:"tp"`
    Fp       []string   `json:"fp"`
    FpOthers [][]string `json:"fp_others"`
    Paths    bool       `json:"paths,omitempty"`
    Regex    string     `json:"regex"`
    Keywords []string   `json:"keywords"`
}

var records []record
var rules []config.Rule

func keep(rule config.Rule, tps, fps []string, paths bool) *config.Rule {
    re := ""
    if rule.Regex != nil {
        re = rule.Regex.String()
        rules = append(rules, rule)
    }
    records = append(records, record{Rule: rule.RuleID, Tp: tps, Fp: fps, Paths: paths, Regex: re, Keywords: rule.Keywords})
    return &rule
}

func Validate(rule config.Rule, truePositives []string, falsePositives []string) *config.Rule {
    return keep(rule, truePositives, falsePositives, false)
}

func values(m map[string]string) []string {
    keys := make([]string, 0, len(m))
    for k := range m {
        keys = append(keys, k)
    }
    sort.Strings(keys)
    vs := make([]string, 0, len(m))
    for _, k := range keys {
        vs = append(vs, m[k])
    }
    return vs
}

func ValidateWithPaths(rule config.Rule, truePositives map[string]string, falsePositives map[string]string) *config.Rule {
    return keep(rule, values(truePositives), values(falsePositives), true)
}

func GetEnvOrDefault(key, fallback string) string {
    if v, ok := os.LookupEnv(key); ok {
        return v
    }
    return fallback
}

func entropy(s string) float64 {
    counts := map[rune]float64{}
    for _, r := range s {
        counts[r]++
    }
    n := float64(len(s))
    e := 0.0
    for _, c := range counts {
        p := c / n
        e -= p * math.Log2(p)
    }
    return e
}

func allowed(rule config.Rule, secret, match string) bool {
    for _, a := range rule.Allowlists {
        if a.MatchCondition == config.AllowlistMatchAnd && (len(a.Paths) > 0 || len(a.Commits) > 0) {
            continue // needs a path or commit, which a scanned text has not
        }
        hits, tests := 0, 0
        if len(a.Regexes) > 0 {
            tests++
            target := secret
            if a.RegexTarget == "match" || a.RegexTarget == "line" {
                target = match
            }
            for _, re := range a.Regexes {
                if re.MatchString(target) {
                    hits++
                    break
                }
            }
        }
        if len(a.StopWords) > 0 {
            tests++
            lower := strings.ToLower(secret)
            for _, w := range a.StopWords {
                if strings.Contains(lower, strings.ToLower(w)) {
                    hits++
                    break
                }
            }
        }
        if tests > 0 && ((a.MatchCondition == config.AllowlistMatchAnd && hits == tests) || (a.MatchCondition == config.AllowlistMatchOr && hits > 0)) {
            return true
        }
    }
    return false
}

// reports tells whether rule finds a secret in text.
func reports(rule config.Rule, global config.Config, text string) bool {
    lower := strings.ToLower(text)
    if len(rule.Keywords) > 0 {
        found := false
        for _, k := range rule.Keywords {
            if strings.Contains(lower, strings.ToLower(k)) {
                found = true
                break
            }
        }
        if !found {
            return false
        }
    }
    for _, m := range rule.Regex.FindAllStringSubmatch(text, -1) {
        secret := m[0]
        if rule.SecretGroup > 0 && rule.SecretGroup < len(m) {
            secret = m[rule.SecretGroup]
        } else {
            for _, g := range m[1:] {
                if g != "" {
                    secret = g
                    break
                }
            }
        }
        if rule.Entropy > 0 && entropy(secret) <= rule.Entropy {
            continue
        }
        if allowed(rule, secret, m[0]) || allowed(config.Rule{Allowlists: global.Allowlists}, secret, m[0]) {
            continue
        }
        return true
    }
    return false
}

func Finish() {
    out := json.NewEncoder(os.Stdout)
    global := base.CreateGlobalConfig()
    for _, rec := range records {
        rec.FpOthers = make([][]string, len(rec.Fp))
        for i, fp := range rec.Fp {
            others := []string{}
            for _, rule := range rules {
                if rule.RuleID != rec.Rule && reports(rule, global, fp) {
                    others = append(others, rule.RuleID)
                }
            }
            rec.FpOthers[i] = others
        }
        _ = out.Encode(rec)
    }
}
"""

HARNESS_SECRETS = """\
// Package secrets: a random string matching a regex, seeded.
package secrets

import (
\t"math/rand"
\t"regexp/syntax"
\t"strings"
)

var rng = rand.New(rand.NewSource(22))

func NewSecret(regex string) string {
\tre, err := syntax.Parse(regex, syntax.Perl)
\tif err != nil {
\t\tpanic(err)
\t}
\tvar b strings.Builder
\tgen(&b, re.Simplify())
\treturn b.String()
}

func gen(b *strings.Builder, re *syntax.Regexp) {
\tswitch re.Op {
\tcase syntax.OpLiteral:
\t\tfor _, r := range re.Rune {
\t\t\tb.WriteRune(r)
\t\t}
\tcase syntax.OpCharClass:
\t\ttotal := 0
\t\tfor i := 0; i+1 < len(re.Rune); i += 2 {
\t\t\ttotal += int(re.Rune[i+1]-re.Rune[i]) + 1
\t\t}
\t\tif total == 0 {
\t\t\treturn
\t\t}
\t\tn := rng.Intn(total)
\t\tfor i := 0; i+1 < len(re.Rune); i += 2 {
\t\t\tsize := int(re.Rune[i+1]-re.Rune[i]) + 1
\t\t\tif n < size {
\t\t\t\tb.WriteRune(re.Rune[i] + rune(n))
\t\t\t\treturn
\t\t\t}
\t\t\tn -= size
\t\t}
\tcase syntax.OpAnyChar, syntax.OpAnyCharNotNL:
\t\tb.WriteByte(byte('a' + rng.Intn(26)))
\tcase syntax.OpCapture:
\t\tgen(b, re.Sub[0])
\tcase syntax.OpConcat:
\t\tfor _, s := range re.Sub {
\t\t\tgen(b, s)
\t\t}
\tcase syntax.OpAlternate:
\t\tgen(b, re.Sub[rng.Intn(len(re.Sub))])
\tcase syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
\t\tlo, hi := 0, 1
\t\tswitch re.Op {
\t\tcase syntax.OpPlus:
\t\t\tlo, hi = 1, 2
\t\tcase syntax.OpRepeat:
\t\t\tlo, hi = re.Min, re.Max
\t\t\tif hi < 0 {
\t\t\t\thi = lo + 1
\t\t\t}
\t\t}
\t\tn := lo + rng.Intn(hi-lo+1)
\t\tfor i := 0; i < n; i++ {
\t\t\tgen(b, re.Sub[0])
\t\t}
\t}
}
"""

IMPORTS = {
    f'"{GL_MODULE}/cmd/generate/config/utils"': '"glbench/utils"',
    f'"{GL_MODULE}/cmd/generate/secrets"': '"glbench/secrets"',
    f'"{GL_MODULE}/config"': '"glbench/config"',
    f'"{GL_MODULE}/regexp"': '"regexp"',
}


def find_go(explicit):
    if explicit:
        return explicit
    found = shutil.which("go")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/go-*/bin/go"), key=lambda p: [int(x) for x in re.findall(r"\d+", p)])
    if candidates:
        return candidates[-1]
    raise SystemExit("no Go toolchain found: install one (Debian: apt-get install golang-go) or pass --go")


def git_show(repo, rev, path):
    return subprocess.run(["git", "-C", repo, "show", f"{rev}:{path}"], check=True, capture_output=True,
                          text=True).stdout


def extract(repo, rev, go):
    """Every rule's examples, as [{"rule", "tp", "fp", "paths"}], and the commit they came from."""
    commit = subprocess.run(["git", "-C", repo, "rev-parse", rev], check=True, capture_output=True,
                            text=True).stdout.strip()
    names = subprocess.run(["git", "-C", repo, "ls-tree", "--name-only", commit, RULES_DIR + "/"], check=True,
                           capture_output=True, text=True).stdout.split()
    with tempfile.TemporaryDirectory(prefix="gitleaks-bench-") as tmp:
        for sub in ["rules", "utils", "config", "secrets", "base"]:
            os.makedirs(os.path.join(tmp, sub))

        def write(rel, text):
            for old, new in IMPORTS.items():
                text = text.replace(old, new)
            with open(os.path.join(tmp, rel), "w", encoding="utf-8") as f:
                f.write(text)

        for name in names:
            if name.endswith(".go") and not name.endswith("_test.go"):
                write(os.path.join("rules", os.path.basename(name)), git_show(repo, commit, name))
        for name in UTILS_FILES:
            write(os.path.join("utils", os.path.basename(name)), git_show(repo, commit, name))
        write("base/config.go", git_show(repo, commit, BASE_FILE))
        write("utils/record.go", HARNESS_RECORD)
        write("config/config.go", HARNESS_CONFIG)
        write("secrets/secrets.go", HARNESS_SECRETS)
        write("go.mod", "module glbench\n\ngo 1.19\n")
        calls = re.findall(r"\brules\.([A-Z][A-Za-z0-9_]*)\(\)", git_show(repo, commit, MAIN_GO))
        body = "".join(f"\trules.{c}()\n" for c in dict.fromkeys(calls))
        write("main.go", f'package main\n\nimport (\n\t"glbench/rules"\n\t"glbench/utils"\n)\n\n'
                         f'func main() {{\n{body}\tutils.Finish()\n}}\n')
        env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off", GOTOOLCHAIN="local",
                   GOCACHE=os.path.join(tmp, "gocache"), GOPATH=os.path.join(tmp, "gopath"))
        built = subprocess.run([go, "build", "-o", "glbench", "."], cwd=tmp, env=env, capture_output=True, text=True)
        if built.returncode != 0:
            raise SystemExit(f"building the harness failed:\n{built.stderr[-3000:]}")
        ran = subprocess.run([os.path.join(tmp, "glbench")], cwd=tmp, env=env, capture_output=True, text=True)
        if ran.returncode != 0:
            raise SystemExit(f"the harness failed:\n{ran.stderr[-3000:]}")
    records = {}
    for line in ran.stdout.splitlines():
        row = json.loads(line)
        rec = records.setdefault(row["rule"], {"rule": row["rule"], "regex": row.get("regex", ""),
                                               "keywords": row.get("keywords") or [], "tp": [], "fp": [],
                                               "paths": False})
        rec["tp"] += row.get("tp") or []
        rec["fp"] += row.get("fp") or []
        rec.setdefault("fp_others", []).extend(row.get("fp_others") or [])
        rec["paths"] |= bool(row.get("paths"))
    return list(records.values()), commit


# ---------------------------------------------------------------- scanning

def default_sluice():
    built = [p for p in (os.path.join(ROOT, "target", d, "sluice") for d in ("debug", "release")) if os.path.exists(p)]
    if not built:
        raise SystemExit("no sluice binary: build it with `cargo build -p sluice` or pass --sluice")
    return max(built, key=os.path.getmtime)


def scan(binary, texts):
    """The secrets findings of each text: [[{"rule", "start", "end"}]]."""
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as cfg:
        cfg.write('[[guardrails]]\nplugin = "secrets"\n')
    try:
        data = "".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts))
        proc = subprocess.run([binary, "scan", "--jsonl", "--config", cfg.name], input=data.encode("utf-8"),
                              capture_output=True)
    finally:
        os.unlink(cfg.name)
    if proc.returncode not in (0, 1, 2):
        raise SystemExit(f"sluice scan failed ({proc.returncode}):\n{proc.stderr.decode(errors='replace')}")
    results = [None] * len(texts)
    for line in proc.stdout.decode("utf-8").splitlines():
        row = json.loads(line)
        if row.get("failures"):
            raise SystemExit(f"the secrets plugin failed on example {row['id']}: {row['failures']}")
        results[int(row["id"])] = [{"rule": f["rule"].removeprefix("secrets."), "start": f["start"], "end": f["end"]}
                                   for f in row.get("findings", []) if f.get("kind") == "secret"]
    if any(r is None for r in results):
        raise SystemExit("sluice returned no result for some examples")
    return results


def generic_rules():
    with open(RULES_TOML, "rb") as f:
        rules = tomllib.load(f)["rules"]
    return {r["id"] for r in rules if r.get("generic")}


# ---------------------------------------------------------------- report

def evaluate(records, findings_of, generic):
    per_rule = []
    totals = collections.Counter()
    for rec in sorted(records, key=lambda r: r["rule"]):
        tp_found = [bool(findings_of[("tp", rec["rule"], i)]) for i in range(len(rec["tp"]))]
        specific = [any(f["rule"] not in generic for f in findings_of[("tp", rec["rule"], i)])
                    for i in range(len(rec["tp"]))]
        fp_flagged = [bool(findings_of[("fp", rec["rule"], i)]) for i in range(len(rec["fp"]))]
        others = rec.get("fp_others") or [[] for _ in rec["fp"]]
        fp_sibling = [bad and bool(o) for bad, o in zip(fp_flagged, others)]
        row = {
            "rule": rec["rule"], "paths": rec["paths"],
            "tp": len(tp_found), "tp_found": sum(tp_found), "tp_specific": sum(specific),
            "fp": len(fp_flagged), "fp_flagged": sum(fp_flagged), "fp_sibling": sum(fp_sibling),
            "missed": [t for t, ok in zip(rec["tp"], tp_found) if not ok],
            "flagged": [(t, [f["rule"] for f in findings_of[("fp", rec["rule"], i)]], others[i])
                        for i, (t, bad) in enumerate(zip(rec["fp"], fp_flagged)) if bad],
        }
        per_rule.append(row)
        for key in ("tp", "tp_found", "tp_specific", "fp", "fp_flagged", "fp_sibling"):
            totals[key] += row[key]
            if not row["paths"]:
                totals[key + "_content"] += row[key]
        if row["tp"]:
            totals["formats"] += 1
            totals["formats_caught"] += row["tp_found"] > 0
            totals["formats_generic_only"] += row["tp_found"] > 0 and row["tp_specific"] == 0
            totals["formats_full"] += row["tp_found"] == row["tp"]
    return per_rule, dict(totals)


def pct(a, b):
    return f"{100 * a / b:.1f}%" if b else "n/a"


def short(text, width=160):
    text = text.replace("\n", "⏎")
    return text if len(text) <= width else text[:width] + "…"


def print_report(per_rule, totals, commit, show, show_all):
    t = totals
    print(f"gitleaks {commit[:12]}: {t['formats']} rules with true-positive examples, "
          f"{t['tp']} true-positive and {t['fp']} false-positive examples\n")
    print("| measure | value |\n|---|---:|")
    print(f"| recall over all true-positive examples | **{pct(t['tp_found'], t['tp'])}** ({t['tp_found']}/{t['tp']}) |")
    print(f"| ... found by a specific (non-generic) rule | {pct(t['tp_specific'], t['tp'])} |")
    print(f"| formats with at least one example found | {t['formats_caught']}/{t['formats']} |")
    print(f"| formats with every example found | {t['formats_full']}/{t['formats']} |")
    print(f"| formats found only by the generic rules | {t['formats_generic_only']} |")
    print(f"| false-positive examples flagged | **{pct(t['fp_flagged'], t['fp'])}** ({t['fp_flagged']}/{t['fp']}) |")
    own = t['fp_flagged'] - t['fp_sibling']
    print(f"| ... of which another gitleaks rule reports too | {t['fp_sibling']} |")
    print(f"| false-positive examples flagged that no gitleaks rule reports | {pct(own, t['fp'])} ({own}/{t['fp']}) |")
    print(f"| recall, rules that do not look at file paths | {pct(t['tp_found_content'], t['tp_content'])} "
          f"({t['tp_found_content']}/{t['tp_content']}) |")
    print(f"| false-positive examples flagged, rules that do not look at file paths | "
          f"{pct(t['fp_flagged_content'], t['fp_content'])} ({t['fp_flagged_content']}/{t['fp_content']}) |")
    print()
    rows = [r for r in per_rule if show_all or r["tp_found"] < r["tp"] or r["fp_flagged"]]
    if rows:
        print("| gitleaks rule | recall | specific | FP flagged |\n|---|---:|---:|---:|")
        for r in sorted(rows, key=lambda r: (r["tp_found"] / r["tp"] if r["tp"] else 1, r["rule"])):
            note = " (path-based)" if r["paths"] else ""
            print(f"| {r['rule']}{note} | {r['tp_found']}/{r['tp']} | {r['tp_specific']} | {r['fp_flagged']}/{r['fp']} |")
    if show:
        for r in rows:
            if not (r["missed"] or r["flagged"]):
                continue
            print(f"\n### {r['rule']}")
            for text in r["missed"][:show]:
                print(f"  missed:  {short(text)}")
            for text, rules, others in r["flagged"][:show]:
                also = f" (gitleaks: {', '.join(others)})" if others else ""
                print(f"  flagged: {short(text)}  <- {', '.join(rules)}{also}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gitleaks", default=os.environ.get("GITLEAKS_REPO", "/work/.mirror/gitleaks+gitleaks/repo"),
                    help="a gitleaks repository (git dir or work tree)")
    ap.add_argument("--rev", default="HEAD", help="the gitleaks revision to read (default HEAD)")
    ap.add_argument("--go", help="the go binary (default: go on PATH, else the newest /usr/lib/go-*/bin/go)")
    ap.add_argument("--sluice", help="the sluice binary (default: the newer of target/debug and target/release)")
    ap.add_argument("--show", type=int, default=0, metavar="N", help="print up to N misses and false alarms per rule")
    ap.add_argument("--all", action="store_true", help="list every rule, not only those with a miss or false alarm")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--save-examples", metavar="FILE", help="also write the extracted examples (JSON lines) here")
    ap.add_argument("--min-recall", type=float, help="exit 1 when recall is below this (0..1)")
    ap.add_argument("--max-fp", type=float, help="exit 1 when the flagged share of false positives is above this")
    args = ap.parse_args()

    if not os.path.exists(args.gitleaks):
        raise SystemExit(f"no gitleaks repository at {args.gitleaks} (pass --gitleaks)")
    records, commit = extract(args.gitleaks, args.rev, find_go(args.go))
    if args.save_examples:
        with open(args.save_examples, "w", encoding="utf-8") as f:
            for rec in records:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    keys, texts = [], []
    for rec in records:
        for kind in ("tp", "fp"):
            for i, text in enumerate(rec[kind]):
                keys.append((kind, rec["rule"], i))
                texts.append(text)
    findings_of = dict(zip(keys, scan(args.sluice or default_sluice(), texts)))
    per_rule, totals = evaluate(records, findings_of, generic_rules())
    if args.json:
        json.dump({"gitleaks_commit": commit, "totals": totals, "rules": per_rule}, sys.stdout, indent=1)
        print()
    else:
        print_report(per_rule, totals, commit, args.show, args.all)
    failed = False
    if args.min_recall is not None and totals["tp_found"] < args.min_recall * totals["tp"]:
        print(f"recall {pct(totals['tp_found'], totals['tp'])} is below {args.min_recall:.0%}", file=sys.stderr)
        failed = True
    if args.max_fp is not None and totals["fp_flagged"] > args.max_fp * totals["fp"]:
        print(f"false alarms {pct(totals['fp_flagged'], totals['fp'])} are above {args.max_fp:.0%}", file=sys.stderr)
        failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
