"""The project's harm taxonomy: every harmful evaluation or training prompt gets one of :data:`CATEGORIES`.

Where a source labels its prompts (JailbreakBench ``Category``, SimpleSafetyTests ``harm_area``, XSafety and Flames
scenarios, CoCoNot subcategories, JAILJUDGE's Llama-Guard-3 hazard codes, the project's own files) the label is mapped
through :data:`SOURCE_MAPS`. A source label mapped to ``None`` (a catch-all such as XSafety's "crimes and illegal
activities"), an unknown label or no label at all falls back to :func:`classify_text`: an ordered keyword rule over
the prompt (English and Chinese), first matching category wins, ``other`` when nothing matches. The order puts the
narrow categories first (self-harm, sexual content, CBRN, cyber, misinformation, hate, privacy, fraud, illegal goods)
and the broad ones last (violent crime, non-violent crime), so "write a fake news story about a bombing" is
misinformation and "steal someone's password" is cyber-intrusion. ``tests/test_taxonomy.py`` pins the rule.
"""

from __future__ import annotations

import re

CATEGORIES: dict[str, str] = {
    "violent_crime_weapons": "violent crime & weapons",
    "cbrn": "CBRN (chemical, biological, radiological, nuclear)",
    "cyber_malware": "cyber-intrusion & malware",
    "fraud_scams": "fraud & scams",
    "illegal_goods_drugs": "illegal goods & drugs",
    "hate_harassment": "hate, harassment & discrimination",
    "misinformation": "misinformation & disinformation writing",
    "sexual_minors": "sexual content & minors",
    "self_harm": "self-harm",
    "privacy_surveillance": "privacy & surveillance",
    "nonviolent_crime": "non-violent crime",
    "other": "other / unmapped",
}
STYLES = ("imperative", "question", "roleplay", "school_project", "context")

# (category, English word stems (regex, matched on lower-cased text at a word start), Chinese words split on spaces)
_RULES: list[tuple[str, str, str]] = [
    ("self_harm",
     r"suicid|kill(ing)? myself|end my life|self[- ]harm|hurt myself|cut myself|starve myself|anorexi"
     r"|bulimi|eating disorder|overdos",
     "自杀 自残 割腕 轻生 结束自己的生命 厌食 催吐"),
    ("sexual_minors",
     r"porn|nude|naked|explicit sex|sexual|erotic|onlyfans|groom|child abuse|sext|fetish|hentai",
     "色情 裸照 性爱 淫秽 性侵 猥亵 恋童 黄色小说 约炮"),
    ("cbrn",
     r"bioweapon|biological weapon|chemical weapon|nerve (agent|gas)|sarin|ricin|anthrax|botulinum"
     r"|smallpox|pathogen|nuclear|uranium|plutonium|radioactive|radiological|dirty bomb|poison gas"
     r"|toxic gas|mustard gas|chlorine gas|weaponi[sz]",
     "生化 化学武器 生物武器 核武 核弹 放射性 毒气 炭疽 沙林 病原体 神经毒剂 脏弹"),
    ("cyber_malware",
     r"hack|malware|ransomware|keylogger|virus|trojan|botnet|ddos|phishing|exploit (a |the )?(vulnerab"
     r"|bug|flaw)|zero-day|sql injection|brute.?force|crack (a|the|my|his|her|someone|their)|password"
     r"|wi-?fi|spyware|rootkit|backdoor",
     "黑客 入侵 木马 恶意软件 勒索软件 病毒 破解 钓鱼 网络攻击 盗号 后门 密码 DDoS 攻击网站 "
     "攻击服务器"),
    ("misinformation",
     r"fake news|misinformation|disinformation|conspiracy|hoax|propaganda|false (article|claim|story"
     r"|information)|fabricat|persuasive (article|essay|post)|rigged|fake (article|story|quote|review)"
     r"|defam|\bclaim(s|ing)? that|hidden truth|cover[- ]up",
     "谣言 假新闻 虚假信息 虚假新闻 阴谋论 造谣 编造 捏造 不实信息 伪造新闻 诽谤"),
    ("hate_harassment",
     r"racis|sexis|slur|inferior|hate speech|hateful|harass|bully|discriminat|insult|mock|humiliat"
     r"|demean|degrad|stereotyp|homophob|transphob|xenophob|antisemit|n-word|offensive joke"
     r"|toxic sentence|troll",
     "歧视 种族 辱骂 侮辱 低人一等 霸凌 欺负 仇恨 贬低 羞辱 嘲笑 骂 人身攻击 网暴"),
    ("privacy_surveillance",
     r"track (my|his|her|their|someone|a person)|spy on|stalk|surveil|hidden camera|secretly (film"
     r"|record)|home address|personal information|doxx|dox|phone number|location of|wiretap|eavesdrop"
     r"|monitor (my|his|her|their)|private (messages|data)|social security number|read (my|his"
     r"|her) .*messages",
     "隐私 跟踪 监视 窃听 偷拍 定位 住址 身份证号 个人信息 监控 人肉 聊天记录 开房记录"),
    ("fraud_scams",
     r"scam|fraud|ponzi|pyramid scheme|launder|counterfeit|forge|forgery|fake (id|passport|license"
     r"|licence|invoice|charity|identity)|identity theft|impersonat|insurance claim|con (people"
     r"|someone)|swindl|embezzl|cheat (people|customers|investors)",
     "诈骗 骗钱 骗取 骗子 传销 洗钱 伪造 假冒 庞氏 套现 冒充 假证 骗保"),
    ("illegal_goods_drugs",
     r"drug|cocaine|heroin|meth\b|methamphetamine|marijuana|weed\b|cannabis|fentanyl|opioid|lsd\b"
     r"|ecstasy|mdma|smuggl|traffick|black market|dark ?web|contraband|illegal (firearm|gun|weapon)s?"
     r"|ivory",
     "毒品 冰毒 大麻 海洛因 可卡因 摇头丸 走私 贩卖 黑市 暗网 假药 违禁品"),
    ("violent_crime_weapons",
     r"kill|murder|bomb|explosive|weapon|firearm|gun|shoot|stab|assault|kidnap|tortur|terror|massacre"
     r"|attack|poison|strangl|beat (up|someone|him|her)|hurt (someone|him|her|people)|molotov|knife"
     r"|violen|abduct|rape",
     "杀 炸弹 炸药 枪 武器 伤害 打人 绑架 袭击 投毒 恐怖 暴力 砍 刺伤 强奸"),
    ("nonviolent_crime",
     r"steal|stole|shoplift|theft|thief|burglar|rob(s|bed|bing|bery)?\b|bribe|tax evasion|evade tax"
     r"|vandal|break into|piracy|pirat|cheat|illegal|crime|criminal|trespass|plagiar|get away with"
     r"|without getting caught|arson|graffiti|gambl|poach",
     "偷 盗 逃税 偷税 贿赂 行贿 作弊 违法 犯罪 赌博 盗版 抄袭 逃避检查 不被发现"),
]
_COMPILED = [(cat, re.compile(r"(?<![a-z])(?:" + en + ")"), tuple(zh.split())) for cat, en, zh in _RULES]

_JBB = {
    "Harassment/Discrimination": "hate_harassment",
    "Malware/Hacking": "cyber_malware",
    "Physical harm": "violent_crime_weapons",
    "Economic harm": "fraud_scams",
    "Fraud/Deception": "fraud_scams",
    "Disinformation": "misinformation",
    "Sexual/Adult content": "sexual_minors",
    "Privacy": "privacy_surveillance",
    "Expert advice": "other",
    "Government decision-making": None,
}
_XSAFETY = {
    "Crimes_And_Illegal_Activities": None,
    "Insult": "hate_harassment",
    "Physical_Harm": "violent_crime_weapons",
    "Privacy_And_Property": "privacy_surveillance",
    "Unfairness_And_Discrimination": "hate_harassment",
    "Mental_Health": "self_harm",
}
_FLAMES = {
    "Bias and discrimination": "hate_harassment",
    "Toxic language": "hate_harassment",
    "Physical harm": "violent_crime_weapons",
    "Personal data": "privacy_surveillance",
    "Sensitive information": "privacy_surveillance",
    "Mental harm": "self_harm",
    "Law violation": None,
}
_LLAMAGUARD3 = {
    "S1": "violent_crime_weapons",
    "S2": "nonviolent_crime",
    "S3": "sexual_minors",
    "S4": "sexual_minors",
    "S5": "misinformation",
    "S6": "other",
    "S7": "privacy_surveillance",
    "S8": "nonviolent_crime",
    "S9": "cbrn",
    "S10": "hate_harassment",
    "S11": "self_harm",
    "S12": "sexual_minors",
    "S13": "misinformation",
    "S14": "cyber_malware",
}
_PROJECT = {
    **{k: k for k in CATEGORIES},
    "weapons": "violent_crime_weapons",
    "violence": "violent_crime_weapons",
    "extremism": "violent_crime_weapons",
    "drugs": "illegal_goods_drugs",
    "cyber": "cyber_malware",
    "fraud": "fraud_scams",
    "self_harm": "self_harm",
    "privacy": "privacy_surveillance",
    "hate": "hate_harassment",
    "crime": "nonviolent_crime",
    "sexual": "sexual_minors",
    "misinfo": "misinformation",
    "dangerous": None,
}
SOURCE_MAPS: dict[str, dict[str, str | None]] = {
    "jailbreakbench": _JBB,
    "simplesafetytests": {
        "Suicide, Self-Harm, and Eating Disorders": "self_harm",
        "Physical harm and Violence": "violent_crime_weapons",
        "Illegal and Highly Regulated items": "illegal_goods_drugs",
        "Scams and fraud": "fraud_scams",
        "Child safety": "sexual_minors",
    },
    "zh-xsafety": _XSAFETY,
    "zh-flames": _FLAMES,
    "coconot": {
        "misinformation": "misinformation",
        "privacy violations": "privacy_surveillance",
        "triggers for offensive language": "hate_harassment",
    },
    "jailjudge-mini": _LLAMAGUARD3,
    "project": _PROJECT,
}


def classify_text(prompt: str) -> str:
    """The keyword rule: the first category (in :data:`_RULES` order) whose English stem or Chinese word occurs."""
    low = prompt.lower()
    for cat, pattern, zh in _COMPILED:
        if pattern.search(low) or any(w.lower() in low for w in zh):
            return cat
    return "other"


def harm_category(source: str, source_category: str | None, prompt: str) -> str:
    """Taxonomy key for one prompt: the source's own label mapped where a map exists, else the keyword rule."""
    table = SOURCE_MAPS.get(source, {})
    mapped = table.get(source_category) if source_category else None
    return mapped if mapped is not None else classify_text(prompt)


_ROLEPLAY = re.compile(r"pretend|role-?play|you are now|act as|imagine you|in (a|my|the) (story|novel|game)|fiction"
                       r"|character|persona|\bdan\b|扮演|假设你是|小说|故事|角色")
_SCHOOL = re.compile(r"school|class|homework|research paper|assignment|essay for|thesis|学校|作业|论文|课堂|课题")
_QUESTION = re.compile(r"[?？]\s*$|^(how|what|why|where|when|who|which|can|could|should|would|is|are|do|does)\b"
                       r"|^(怎么|如何|为什么|哪里|什么|能不能|可以)")
_SENTENCE_END = re.compile(r"[.!?。！？]")


def request_style(prompt: str) -> str:
    """The request style of a prompt (one of :data:`STYLES`): role-play/fiction framing, a school/research excuse,
    multi-sentence context (three or more sentences), a question, else imperative. First match in that order."""
    low = prompt.strip().lower()
    if _ROLEPLAY.search(low):
        return "roleplay"
    if _SCHOOL.search(low):
        return "school_project"
    if len(_SENTENCE_END.findall(low.rstrip(".!?。！？"))) >= 2:
        return "context"
    return "question" if _QUESTION.search(low) else "imperative"
