"""Local HTML pages and text files the recorded desktops show, in Russian and English.

:func:`exam_page` writes the exam (an LMS quiz page: header, ticking countdown, question,
answer box, reference notes long enough to scroll; F9 / F7 go to the next / previous question
and change the page title, as a real quiz does). :func:`site_page` writes another site (a
messenger, an AI chat, an answers site, a search page, a harmless one) in a light or dark theme.
Titles are what the window's title bar or tab shows; :data:`SITES` says which ones carry
deny-listed text (``forbidden``), so the scenarios can write the truth.
"""

from __future__ import annotations

import html
from pathlib import Path

__all__ = ["EXAM_TITLES", "SITES", "exam_page", "site_page"]

EXAM_TITLES = {"ru": "Экзамен 42: Линейная алгебра — вопрос {n} из 5",
               "en": "Exam 42: Linear Algebra - Question {n} of 5"}
_QUESTIONS = {
    "ru": ["Найдите собственные значения матрицы A = [[4, 1], [2, 3]] и один собственный вектор.",
           "Объясните, почему у вещественной симметричной матрицы все собственные значения вещественны.",
           "Найдите ранг матрицы 3 x 3 со строками (1, 2, 3), (2, 4, 6) и (1, 0, 1).",
           "Сформулируйте теорему о ранге и дефекте и примените её к проекции на плоскость x-y.",
           "Докажите, что определитель ортогональной матрицы равен 1 или -1."],
    "en": ["Compute the eigenvalues of the matrix A = [[4, 1], [2, 3]] and give one eigenvector.",
           "Explain why every real symmetric matrix has only real eigenvalues.",
           "Find the rank of the 3 x 3 matrix whose rows are (1, 2, 3), (2, 4, 6) and (1, 0, 1).",
           "State the rank-nullity theorem and apply it to the projection onto the x-y plane.",
           "Show that the determinant of an orthogonal matrix is either 1 or -1."],
}
_WORDS = {
    "ru": {"lms": "Электронный университет", "left": "Осталось", "q": "Вопрос", "hint": "Ответ дайте полными "
           "предложениями, покажите ход решения.", "prev": "Предыдущая страница", "next": "Следующая страница",
           "notes": "Справочные материалы", "help": "Справка по вводу формул",
           "para": "Матрица A называется симметричной, если она совпадает со своей транспонированной. "
                   "Собственный вектор v удовлетворяет равенству A v = x v для некоторого числа x."},
    "en": {"lms": "University LMS", "left": "Time left", "q": "Question", "hint": "Answer in full sentences; "
           "show your reasoning.", "prev": "Previous page", "next": "Next page", "notes": "Reference notes",
           "help": "How to type formulas",
           "para": "A matrix A is symmetric when it equals its transpose. An eigenvector v satisfies "
                   "A v = x v for some number x, its eigenvalue."},
}

# key: (title, lines, forbidden). Titles and lines as a Russian or English UI shows them.
SITES: dict[str, tuple[str, list[str], bool]] = {
    "telegram": ("Telegram Web", ["Иван Петров: ответ на четвёртый вопрос — 17",
                                  "Мария: кто решил второй? скиньте в Телеграм", "Написать сообщение..."], True),
    "vk": ("Мессенджер ВКонтакте", ["Олег: матрица симметричная, значит собственные значения вещественны",
                                    "Вы: спасибо!", "Напишите сообщение"], True),
    "otvet": ("Ответы Mail.ru: как найти ранг матрицы 3 на 3?",
              ["Ответы Mail.ru", "Лучший ответ: строки 1 и 2 пропорциональны, поэтому ранг равен двум.",
               "Ответить"], True),
    "yandex": ("ранг матрицы 3x3 — Яндекс: нашлось 2 млн результатов",
               ["Яндекс Поиск", "Ранг матрицы — онлайн калькулятор с решением", "Как найти ранг матрицы"], True),
    "chatgpt": ("ChatGPT", ["ChatGPT", "You: what are the eigenvalues of [[2, 1], [1, 2]]?",
                            "The eigenvalues are 1 and 3.", "Message ChatGPT"], True),
    "whatsapp": ("WhatsApp Web", ["WhatsApp", "Bob: answer to Q4 is 17", "Type a message"], True),
    "weather": ("Погода в Санкт-Петербурге", ["Сегодня +5, облачно", "Завтра +3, дождь",
                                               "Ветер 4 м/с"], False),
}


def _page(title: str, body: str, dark: bool, script: str = "") -> str:
    bg, fg, bar = ("#1e1f22", "#e3e3e3", "#2b2d31") if dark else ("#ffffff", "#202020", "#1f4e79")
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>'
            f"body{{font-family:'DejaVu Sans',sans-serif;margin:0;background:{bg};color:{fg};font-size:18px}}"
            f"header{{background:{bar};color:#fff;padding:12px 32px;font-size:20px}}"
            "main{padding:18px 40px} #timer{float:right} .m{padding:14px 0;font-size:19px}"
            f"textarea{{width:88%;height:140px;font-size:18px;background:{bg};color:{fg}}}"
            "button{font-size:17px;padding:6px 14px;margin-right:12px} .note{line-height:1.7}"
            f"</style></head><body>{body}<script>{script}</script></body></html>")


def exam_page(folder: Path, lang: str, dark: bool) -> Path:
    """The exam page (``exam-<lang>.html``); F9 / F7: next / previous question."""
    w, qs = _WORDS[lang], _QUESTIONS[lang]
    notes = "".join(f'<p class="note">{html.escape(w["para"])}</p>' for _ in range(14))
    body = (f'<header>{html.escape(w["lms"])} <span id="timer">{w["left"]} 0:45:00</span></header><main>'
            f'<h2 id="qn">{w["q"]} 1</h2><p id="qt">{html.escape(qs[0])}</p><p>{html.escape(w["hint"])}</p>'
            '<textarea id="a" autofocus></textarea><p>'
            f'<button>{w["prev"]}</button><button>{w["next"]}</button>'
            f'<button id="help" title="{html.escape(w["help"])}">?</button></p>'
            f'<h3>{w["notes"]}</h3>{notes}</main>')
    script = (f"const Q={_js(qs)},T={_js(EXAM_TITLES[lang])},W={_js(w['q'])},L={_js(w['left'])};"
              "let n=0,s=2700;function show(){document.title=T.replace('{n}',n+1);"
              "document.getElementById('qn').textContent=W+' '+(n+1);"
              "document.getElementById('qt').textContent=Q[n];const a=document.getElementById('a');"
              "a.value='';a.focus();window.scrollTo(0,0)}"
              "document.addEventListener('keydown',e=>{if(e.key==='F9'){n=(n+1)%5;show()}"
              "if(e.key==='F7'){n=(n+4)%5;show()}});show();"
              "setInterval(()=>{s--;document.getElementById('timer').textContent=L+' 0:'+"
              "String(Math.floor(s/60)%60).padStart(2,'0')+':'+String(s%60).padStart(2,'0')},1000)")
    out = Path(folder) / f"exam-{lang}.html"
    out.write_text(_page(EXAM_TITLES[lang].format(n=1), body, dark, script), encoding="utf-8")
    return out


def site_page(folder: Path, key: str, dark: bool) -> Path:
    """Another site's page (``<key>.html``)."""
    title, lines, _ = SITES[key]
    body = "<main>" + "".join(f'<div class="m">{html.escape(line)}</div>' for line in lines) + "</main>"
    out = Path(folder) / f"{key}.html"
    out.write_text(_page(title, body, dark), encoding="utf-8")
    return out


def _js(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
