#!/usr/bin/env python3
"""Build the project-written Chinese benign look-alike prompts used for training (requests only, no answers).

These prompts *sound* risky (kill, attack, poison, weapons, hacking...) but are ordinary requests a helpful assistant
should answer. The quickstart recipe pairs them with the base model's own answer as *chosen* and a refusal as
*rejected* (``helpful_pairs`` without an answer column), so the model learns not to refuse them. They are disjoint
from the built-in evaluation suite ``benign_lookalike`` (checked by ``tests/test_recipe_data.py``):

    src/safetyalign/data/recipe_data/benign_lookalike_zh_train.jsonl

Deterministic: rerunning writes an identical file.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src/safetyalign/data/recipe_data/benign_lookalike_zh_train.jsonl"
PROMPTS: dict[str, list[str]] = {
    "tech": ["如何在Windows任务管理器里结束一个占用内存很高的进程？", "怎样杀掉Linux中所有名为python的进程？",
             "Docker容器卡死了，怎么强制停止它？", "Git里怎么撤销上一次提交？", "如何攻克学习编程时遇到的瓶颈？",
             "怎么彻底删除电脑里不需要的旧文件来释放空间？"],
    "cooking": ["杀鸡之后怎么拔毛比较快？", "怎样把活虾处理干净再下锅？", "红烧肉怎么做才好吃？",
                "切洋葱时怎样才不流眼泪？", "怎么给一整条鱼去骨？"],
    "history": ["二战中诺曼底登陆是怎么策划的？", "古代的火炮是怎样发展起来的？", "秦始皇统一六国靠的是什么？",
                "冷战期间的核军备竞赛是怎么结束的？", "赤壁之战中火攻为什么能成功？"],
    "health": ["感冒药一次最多能吃几片才安全？", "被狗咬伤后应该怎么紧急处理？", "失眠的人有哪些健康的助眠方法？",
               "怎样判断食物是否已经变质有毒？", "孩子误吞了硬币应该怎么办？"],
    "security": ["怎样防止自己的微信账号被别人盗用？", "黑客常用的钓鱼邮件有哪些特征，我该怎么防范？",
                 "如何保护家里的Wi-Fi不被别人蹭网？", "公司怎样做渗透测试来发现自己的安全漏洞？",
                 "老人接到冒充公检法的电话该怎么应对？"],
    "games": ["《我的世界》里怎样打败末影龙？", "象棋里怎样才能将死对方的帅？", "吃鸡游戏里怎么提高爆头率？",
              "《三国杀》里怎样用杀和闪配合赢得比赛？"],
    "language": ["“杀手锏”这个词是什么意思？", "“一针见血”的意思和用法是什么？", "“破釜沉舟”出自哪个历史故事？",
                 "英语里“kill two birds with one stone”怎么翻译成中文？"],
    "science": ["为什么有些蘑菇有毒，怎么识别？", "炸药为什么会爆炸？请从化学原理上解释。",
                "核电站是怎样防止核泄漏的？", "为什么不能在加油站打电话？"],
    "law": ["遇到别人持刀抢劫时，怎样的反击算正当防卫？", "被公司无故辞退，怎样通过法律维权？",
            "盗窃罪在中国一般怎么量刑？", "发现邻居家孩子被虐待，应该向哪里举报？"],
    "fiction": ["写一个关于警察追捕逃犯的短篇故事开头。", "推理小说里常见的作案手法有哪些套路？",
                "帮我构思一个武侠小说中两位高手决斗的场景。"],
    "home": ["怎样杀灭家里的螨虫？", "如何清除墙角的霉菌？", "老鼠药放在哪里才不会被小孩碰到？",
             "怎样安全地处理过期的药品？"],
    "sports": ["射击运动员平时怎么训练稳定性？", "拳击中怎样防守对方的重拳？", "怎样提高足球的射门力量？"],
    "finance": ["怎样识别非法集资和庞氏骗局？", "个人怎样合法地进行税务筹划？"],
}


def build() -> list[dict]:
    """Rows ``{id, prompt, lang, category, expected}`` in a fixed order."""
    rows = []
    for category, prompts in PROMPTS.items():
        for i, prompt in enumerate(prompts):
            rows.append({"id": f"blzh-{category}-{i}", "prompt": prompt, "lang": "zh", "category": category,
                         "expected": "comply"})
    return rows


def main() -> None:
    """Write the training file (atomically, with the project's JSONL writer)."""
    from safetyalign.io import write_jsonl

    rows = build()
    write_jsonl(OUT, rows)
    print(f"{OUT.relative_to(ROOT)}: {len(rows)} prompts")


if __name__ == "__main__":
    main()
