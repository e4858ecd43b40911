#!/usr/bin/env python3
"""Build the project-written English benign look-alike prompts used for training (requests only, no answers).

Each prompt touches a topic that red-team prompts also touch (weapons, drugs, hacking, fraud, gambling, violence in
fiction, privacy, medicine...) but asks for something an assistant should help with: safety advice, history,
fiction, defence, how an everyday tool works. The quickstart recipe pairs them with the base model's own answer as
*chosen* and a refusal as *rejected* (``helpful_pairs`` without an answer column), so the model learns that a risky
word alone is no reason to refuse. They were written for this project, are not rewrites of any evaluation prompt,
and are disjoint from every evaluation suite (checked by ``tests/test_recipe_data.py``):

    src/safetyalign/data/recipe_data/benign_lookalike_en_train.jsonl

Deterministic: rerunning writes an identical file.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src/safetyalign/data/recipe_data/benign_lookalike_en_train.jsonl"
PROMPTS: dict[str, list[str]] = {
    "security": ["How can I tell whether an email asking for my bank password is a phishing attempt?",
                 "What makes a password hard to guess, and how long should it be?",
                 "Explain what a firewall does on a home router.",
                 "How do companies run bug bounty programs?",
                 "What should I do if I think my social media account was hacked?",
                 "Write a short guide for seniors on spotting phone scams."],
    "tech": ["How do I kill a frozen process on macOS?",
             "What is the fastest way to wipe old files from a USB stick before giving it away?",
             "How does end-to-end encryption keep messages private?",
             "Write a Python function that checks whether a string is a valid email address.",
             "How do I shoot a time-lapse video with my phone?"],
    "health": ["What is the maximum daily dose of paracetamol for an adult, and why does it matter?",
               "How should I store prescription medicine safely at home with small children?",
               "What are the warning signs of an opioid overdose, and what should a bystander do?",
               "How can I talk to my doctor about managing chronic back pain?",
               "What should I do if my dog eats chocolate?",
               "How do vaccines train the immune system?"],
    "money": ["How do casinos make sure the house always wins in the long run?",
              "Explain how a Ponzi scheme works so I can recognise one.",
              "What are the legal ways to reduce my income tax?",
              "How do banks detect money laundering?",
              "Write a budget plan for a student who wants to stop overspending."],
    "history": ["Why did the Manhattan Project succeed in building the first atomic bomb?",
                "How did codebreakers at Bletchley Park crack the Enigma machine?",
                "What caused the Prohibition era in the United States to end?",
                "Summarise the causes of the First World War.",
                "How did the Great Train Robbery of 1963 become so famous?"],
    "fiction": ["Write the opening paragraph of a detective story about a stolen painting.",
                "Write a short poem about a soldier returning home from war.",
                "Describe a tense poker game between two rivals in a western novel.",
                "Give me a plot idea for a thriller where a journalist uncovers a corruption scandal.",
                "Write a villain's monologue for a fantasy play, without any real-world instructions."],
    "law": ["What counts as self-defence under the law in most countries?",
            "How does DNA evidence help solve old criminal cases?",
            "What are my rights if I am stopped by the police while driving?",
            "How does a court decide whether someone is guilty of fraud?",
            "What can I do legally if a neighbour keeps harassing me?"],
    "chemistry": ["Why should bleach never be mixed with ammonia when cleaning?",
                  "How do fireworks produce different colours?",
                  "Why is carbon monoxide dangerous, and how does a detector work?",
                  "Explain how nitroglycerin is used as a heart medicine."],
    "everyday": ["How do I pick a lock on my own bathroom door if my toddler locked it from inside?",
                 "What is the best way to get rid of wasps nesting under my roof?",
                 "How do I sharpen a kitchen knife safely?",
                 "How can I track my own phone if I lose it?",
                 "How do I safely dispose of old batteries and paint?",
                 "What is the humane way to remove a mouse from my house?"],
    "media": ["Write a blog post on how to spot deepfake videos.",
              "Explain why conspiracy theories spread so quickly online.",
              "How do fact-checkers verify a viral photo?",
              "Write a social media post encouraging people to vote in local elections.",
              "What makes propaganda posters from the 1940s so persuasive?"],
    "sports": ["How do boxers train to take a punch?",
               "What are the basic safety rules at a shooting range?",
               "How do I throw a knockout punch in a video game like Tekken?",
               "Explain the rules of fencing."],
    "language": ["What does the idiom 'over my dead body' mean?",
                 "Where does the expression 'bite the bullet' come from?",
                 "Translate 'I could kill for a coffee' into plain English."],
}


def build() -> list[dict]:
    """Rows ``{id, prompt, lang, category, expected}`` in a fixed order."""
    return [{"id": f"blen-{category}-{i}", "prompt": prompt, "lang": "en", "category": category, "expected": "comply"}
            for category, prompts in PROMPTS.items() for i, prompt in enumerate(prompts)]


def main() -> None:
    """Write the training file (atomically, with the project's JSONL writer)."""
    from safetyalign.io import write_jsonl

    rows = build()
    write_jsonl(OUT, rows)
    print(f"{OUT.relative_to(ROOT)}: {len(rows)} prompts")


if __name__ == "__main__":
    main()
