#!/usr/bin/env python3
"""gen-mappings.py -- write the ATT&CK technique mappings c2tap ships.

usage: scripts/gen-mappings.py [--data DIR] [--rules DIR]... [--out FILE] [--notice FILE]

Reads the Center for Threat-Informed Defense's Mappings Explorer files (DIR, default
../shared/mappings beside the repository: VERIS 1.4.0 and 1.3.5, NIST SP 800-53 rev 5 with
the control descriptions, AWS, Azure and GCP) and writes the mappings of every ATT&CK
technique that a Sigma rule under the rule folders tags (`attack.tNNNN[.NNN]`; default: the
project's rules/ and ../shared/sigma, SigmaHQ's network rules) into one compact JSON file
(default src/detect/mappings/attack-mappings.json), with its NOTICE beside it.

What is kept, per technique id (exact ids only, see "Sub-techniques" below):
  veris        VERIS enumerations mapped `related_to` the technique: VERIS 1.4.0 (against
               ATT&CK 16.1) and VERIS 1.3.5 (against ATT&CK 9.0, kept only for technique ids
               the ATT&CK 16.1 files still use); each entry says which versions map it.
  nist_800_53  NIST SP 800-53 rev 5 controls that `mitigate` it, in NIST's own form (SC-7,
               not the files' SC-07), sorted by family then number.
  aws, azure, gcp
               capabilities with their score category (protect/detect/respond) and value
               (minimal/partial/significant) and the mapping's comments; AWS GuardDuty's
               finding types are lifted out of its comments into `finding_types`.
Entries marked `non_mappable` are left out; so is a technique without any entry.
  nist_controls  name (from the mapping file: the descriptions file has only discussion text)
               and summary (the discussion's first sentence, from nist-rev5_descriptions.json)
               of every control listed.

Sub-techniques: a sub-technique gets only the entries the data gives for its own id. The
CTID scores a parent and each sub-technique separately (cloud entries of a sub-technique
name their parent in `related_score`), so copying a parent's entries down would claim
coverage the data does not state. Parents of tagged sub-techniques are written too, so that
c2tap can point at them ("parent T1071 has ..., not inherited").

The output depends only on the inputs (sorted keys and lists, one technique per line), so
tests/mappings.rs regenerates it and compares it byte for byte with the committed file.
Python 3 standard library only.
"""

import argparse
import html
import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (framework key, file name, framework version, ATT&CK version) of the files read.
VERIS_FILES = [
    ("1.4.0", "veris-1.4.0_attack-16.1-enterprise.json", "16.1"),
    ("1.3.5", "veris-1.3.5_attack-9.0-enterprise.json", "9.0"),
]
NIST_FILE = "nist_800_53-rev5_attack-16.1-enterprise.json"
NIST_DESCRIPTIONS = "nist-rev5_descriptions.json"
CLOUD_FILES = [
    ("aws", "aws-12.12.2024_attack-16.1-enterprise.json"),
    ("azure", "azure-04.26.2025_attack-16.1-enterprise.json"),
    ("gcp", "gcp-03.06.2025_attack-16.1-enterprise.json"),
]

TECHNIQUE_TAG = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)
# A GuardDuty finding type: ThreatPurpose:ResourceType/ThreatFamilyName[.Variant][!Artifact]
# (AWS's documented form), e.g. Backdoor:EC2/C&CActivity.B!DNS.
FINDING_TYPE = re.compile(r"\b[A-Z][A-Za-z]+:[A-Za-z0-9]+/[A-Za-z0-9&.!_-]*[A-Za-z0-9&!_-]")
NIST_ID = re.compile(r"^([A-Z]{2})-0*(\d+)$")
# Most characters of a control's summary: a first sentence is one to three lines.
SUMMARY_MAX = 400


def fail(msg):
    print(f"gen-mappings: {msg}", file=sys.stderr)
    sys.exit(1)


def load(data_dir, name):
    path = os.path.join(data_dir, name)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")


def mapped(doc):
    """The complete mapping objects of a Mappings Explorer file."""
    return [m for m in doc.get("mapping_objects", []) if m.get("status") == "complete"
            and m.get("capability_id") and m.get("attack_object_id")]


def rule_tags(text):
    """Items of every `tags:` list of a YAML file (block or flow style)."""
    tags = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)tags:\s*(.*?)\s*$", line)
        i += 1
        if not m:
            continue
        rest = m.group(2)
        if rest.startswith("["):
            tags += [t.strip().strip("'\"") for t in rest.strip("[]").split(",")]
            continue
        while i < len(lines):
            item = re.match(r"^\s*-\s*(\S+)\s*$", lines[i])
            if not item:
                break
            tags.append(item.group(1).strip("'\""))
            i += 1
    return tags


def tagged_techniques(rule_dirs):
    found = set()
    for d in rule_dirs:
        if not os.path.isdir(d):
            fail(f"{d}: not a folder of rules")
        for root, dirs, files in os.walk(d):
            dirs.sort()
            for name in sorted(files):
                if not name.endswith((".yml", ".yaml")):
                    continue
                with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                    for tag in rule_tags(f.read()):
                        m = TECHNIQUE_TAG.match(tag)
                        if m:
                            found.add(m.group(1).upper())
    return found


def nist_id(raw):
    m = NIST_ID.match(raw or "")
    return f"{m.group(1)}-{int(m.group(2))}" if m else None


def nist_key(cid):
    family, num = cid.split("-")
    return (family, int(num))


def first_sentence(description):
    text = html.unescape(re.sub(r"<[^>]+>", " ", description or ""))
    text = re.sub(r"\s+", " ", text).strip()
    # A link's text, freed from its tags, leaves a space before the punctuation after it.
    text = re.sub(r" ([.,;:)])", r"\1", text)
    # A sentence ends at a full stop before a capital letter or the end, not at "e.g."
    # or "i.e." (NIST writes both often).
    m = re.match(r"(.+?(?<!\be\.g)(?<!\bi\.e)\.)(?:\s+[A-Z(]|$)", text)
    sentence = m.group(1) if m else text
    if len(sentence) > SUMMARY_MAX:
        cut = sentence[:SUMMARY_MAX].rsplit(" ", 1)[0]
        sentence = cut + " …"
    return sentence


def build(data_dir, wanted):
    techniques = {}
    names = {}

    def entry(tid):
        return techniques.setdefault(tid, {"veris": {}, "nist_800_53": set(), "aws": {},
                                           "azure": {}, "gcp": {}})

    nist_doc = load(data_dir, NIST_FILE)
    cloud_docs = [(key, load(data_dir, name)) for key, name in CLOUD_FILES]
    veris_docs = [(ver, load(data_dir, name), attack) for ver, name, attack in VERIS_FILES]

    # Ids ATT&CK 16.1 still uses: every technique the 16.1 files name (non-mappable too).
    current = set()
    for doc in [nist_doc] + [d for _, d in cloud_docs] + [d for _, d, a in veris_docs if a == "16.1"]:
        for m in doc.get("mapping_objects", []):
            tid = m.get("attack_object_id")
            if tid:
                current.add(tid.upper())
                if m.get("attack_object_name") and tid.upper() not in names:
                    names[tid.upper()] = m["attack_object_name"]

    control_names = {}
    for m in mapped(nist_doc):
        tid = m["attack_object_id"].upper()
        cid = nist_id(m["capability_id"])
        if tid not in wanted or m.get("mapping_type") != "mitigates" or not cid:
            continue
        entry(tid)["nist_800_53"].add(cid)
        control_names.setdefault(cid, m.get("capability_description") or "")

    for ver, doc, attack in veris_docs:
        for m in mapped(doc):
            tid = m["attack_object_id"].upper()
            if tid not in wanted or m.get("mapping_type") != "related_to":
                continue
            if attack != "16.1" and tid not in current:
                continue
            v = entry(tid)["veris"].setdefault(m["capability_id"], {"description": "",
                                                                    "versions": set()})
            v["versions"].add(ver)
            # The newest version's wording (the 1.4.0 file is read first).
            if not v["description"]:
                v["description"] = m.get("capability_description") or ""

    for key, doc in cloud_docs:
        for m in mapped(doc):
            tid = m["attack_object_id"].upper()
            cat, val = m.get("score_category"), m.get("score_value")
            if tid not in wanted or not cat or not val:
                continue
            cap = m.get("capability_description") or m["capability_id"]
            e = entry(tid)[key].setdefault((cap, cat, val), {"comments": [], "finding_types": set()})
            comment = (m.get("comments") or "").strip()
            if comment and comment not in e["comments"]:
                e["comments"].append(comment)
            if key == "aws":
                e["finding_types"].update(FINDING_TYPE.findall(comment))

    out = {}
    for tid in sorted(techniques):
        t = techniques[tid]
        o = {"name": names.get(tid, "")}
        if t["veris"]:
            o["veris"] = [{"id": vid, "description": v["description"],
                           "versions": sorted(v["versions"])}
                          for vid, v in sorted(t["veris"].items())]
        if t["nist_800_53"]:
            o["nist_800_53"] = sorted(t["nist_800_53"], key=nist_key)
        for key, _ in CLOUD_FILES:
            if t[key]:
                rows = []
                for (cap, cat, val), e in sorted(t[key].items()):
                    r = {"capability": cap, "category": cat, "value": val}
                    if e["comments"]:
                        r["comments"] = "\n\n".join(e["comments"])
                    if e["finding_types"]:
                        r["finding_types"] = sorted(e["finding_types"])
                    rows.append(r)
                o[key] = rows
        if len(o) > 1:
            out[tid] = o

    descriptions = {}
    for d in load(data_dir, NIST_DESCRIPTIONS):
        cid = nist_id(d.get("id"))
        if cid and d.get("description") and cid not in descriptions:
            descriptions[cid] = first_sentence(d["description"])
    used = sorted({c for t in out.values() for c in t.get("nist_800_53", [])}, key=nist_key)
    controls = {c: {"name": control_names.get(c, ""), "summary": descriptions.get(c, "")}
                for c in used}

    def meta(doc):
        md = doc.get("metadata", {})
        return {"framework": md.get("mapping_framework", ""),
                "framework_version": md.get("mapping_framework_version", ""),
                "attack_version": md.get("attack_version", ""),
                "last_update": md.get("last_update") or md.get("creation_date") or ""}

    sources = [dict(meta(doc), file=VERIS_FILES[i][1]) for i, (_, doc, _) in enumerate(veris_docs)]
    sources.append(dict(meta(nist_doc), file=NIST_FILE))
    sources.append({"framework": "nist_800_53 descriptions", "framework_version": "rev5",
                    "attack_version": "", "last_update": "", "file": NIST_DESCRIPTIONS})
    for (key, name), (_, doc) in zip(CLOUD_FILES, cloud_docs):
        sources.append(dict(meta(doc), file=name))
    return {"sources": sources, "nist_controls": controls, "techniques": out}


def render(data):
    """Compact JSON, one technique (and one control) per line, for reviewable diffs."""
    def dump(v):
        return json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    def obj(items):
        return "{\n" + ",\n".join(f"{dump(k)}:{dump(v)}" for k, v in items) + "\n}"

    return ("{\"format\":1,\n\"sources\":" + dump(data["sources"]) +
            ",\n\"nist_controls\":" + obj(sorted(data["nist_controls"].items(),
                                                 key=lambda kv: nist_key(kv[0]))) +
            ",\n\"techniques\":" + obj(sorted(data["techniques"].items())) + "}\n")


NOTICE = """\
attack-mappings.json: ATT&CK technique mappings shipped with c2tap
===================================================================

Source: Mappings Explorer, Center for Threat-Informed Defense,
https://github.com/center-for-threat-informed-defense/mappings-explorer (commit 2911162,
mappings/...), licensed under the Apache License, Version 2.0
(http://www.apache.org/licenses/LICENSE-2.0; the full text is in ../shared/mappings/LICENSE.txt
and in the repository above).

Files read (framework, framework version, ATT&CK version, last update):
{files}

Generated by scripts/gen-mappings.py (c2tap) from those files: only the techniques tagged
by the Sigma rules of {rules}, {count} techniques; VERIS, NIST SP 800-53 rev 5 (ids written
as NIST writes them: SC-7 for the files' SC-07; each control's summary is the first
sentence of its discussion), AWS, Azure and GCP entries of each; entries marked non_mappable
left out; AWS GuardDuty finding types lifted out of the comments. The data is otherwise
unchanged. Changes: selection and re-formatting as described, by the c2tap project.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join(REPO, "..", "shared", "mappings"))
    ap.add_argument("--rules", action="append",
                    help="folder of Sigma rules (repeatable; default: rules/ and ../shared/sigma)")
    ap.add_argument("--out", default=os.path.join(REPO, "src", "detect", "mappings",
                                                  "attack-mappings.json"))
    ap.add_argument("--notice", help="NOTICE file to write (default: NOTICE beside --out)")
    a = ap.parse_args()
    rules = a.rules or [os.path.join(REPO, "rules"), os.path.join(REPO, "..", "shared", "sigma")]
    wanted = tagged_techniques(rules)
    # Parents of tagged sub-techniques, so the coverage view can name what they have.
    wanted |= {t.split(".")[0] for t in wanted if "." in t}
    data = build(a.data, wanted)
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(render(data))
    files = "\n".join(f"  {s['file']}: {s['framework']} {s['framework_version']}, ATT&CK "
                      f"{s['attack_version'] or '-'}, {s['last_update'] or '-'}"
                      for s in data["sources"])
    shown = ", ".join(os.path.relpath(os.path.normpath(r), REPO) for r in rules)
    notice = a.notice or os.path.join(os.path.dirname(a.out), "NOTICE")
    with open(notice, "w", encoding="utf-8", newline="\n") as f:
        f.write(NOTICE.format(files=files, rules=shown, count=len(data["techniques"])))
    print(f"gen-mappings: {len(data['techniques'])} techniques ({len(wanted)} tagged or "
          f"parents) -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
