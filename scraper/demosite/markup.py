"""The HTML of BaigeNews-style pages (article, listing), as the real site lays them out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape

from scraper.demosite.corpus import HEADLINES_KK, HEADLINES_RU

SECTIONS = (
    ("politika", "Политика"),
    ("ekonomika", "Экономика"),
    ("obshchestvo", "Общество"),
    ("proisshestviya", "Происшествия"),
    ("sport", "Спорт"),
    ("v-mire", "В мире"),
)
SECTIONS_KK = (
    ("sayasat", "Саясат"),
    ("ekonomika", "Экономика"),
    ("qogam", "Қоғам"),
    ("oqigha", "Оқиға"),
    ("sport", "Спорт"),
    ("alem", "Әлем"),
)


def _critical_css() -> str:
    """Inline above-the-fold CSS, as the site's template ships it in every page (~15 KB)."""
    blocks = (
        "header",
        "menu",
        "news-detail",
        "sidebar",
        "news-feed",
        "popular",
        "related-news",
        "footer",
        "share",
        "tg-promo",
        "breadcrumbs",
        "cookie",
        "topbar",
        "mobile-menu",
        "adv",
        "partners",
    )
    parts = [
        ":root{--accent:#d7263d;--text:#1b1b1b;--muted:#7a7a7a;--bg:#fff;--radius:6px}",
        "*,*:before,*:after{box-sizing:border-box}html{-webkit-text-size-adjust:100%}",
        "body{margin:0;font:16px/1.5 'Roboto',Arial,sans-serif;color:var(--text);background:var(--bg)}",
        ".container{max-width:1240px;margin:0 auto;padding:0 16px}.layout{display:grid;grid-template-columns:1fr 320px;gap:32px}",
    ]
    for block in blocks:
        for element in (
            "",
            "__inner",
            "__title",
            "__list",
            "__item",
            "__link",
            "__date",
            "__text",
            "__image",
            "__label",
        ):
            for modifier in ("", "--active", "--small", "--dark"):
                name = f".{block}{element}{modifier}"
                parts.append(
                    f"{name}{{display:flex;align-items:center;margin:0 0 8px;padding:4px 8px;"
                    f"font-size:{12 + len(element) % 6}px;color:var(--{'muted' if modifier else 'text'})}}"
                )
    parts.append("@media (max-width:992px){.layout{grid-template-columns:1fr}.sidebar{display:none}}")
    return "".join(parts)


CRITICAL_CSS = _critical_css()

_ICONS = (
    "eye",
    "clock",
    "search",
    "telegram",
    "whatsapp",
    "facebook",
    "instagram",
    "youtube",
    "tiktok",
    "arrow-up",
    "close",
    "burger",
    "sun",
    "cloud",
)
SVG_SPRITE = (
    '<svg xmlns="http://www.w3.org/2000/svg" style="display:none">'
    + "".join(
        f'<symbol id="{icon}" viewBox="0 0 24 24"><path d="'
        + " ".join(
            f"M{(i * 7 + n) % 24} {(i * 3 + n * 5) % 24}c1.{n} 2.{i} 3.{n} 4.{i} 5 6.{n}l{n % 5}-{i % 7}"
            for n in range(14)
        )
        + 'z" fill="currentColor"/></symbol>'
        for i, icon in enumerate(_ICONS)
    )
    + "</svg>"
)

ANALYTICS = """  <script async src="https://www.googletagmanager.com/gtag/js?id=G-BGNWS0000"></script>
  <script>
    window.dataLayer = window.dataLayer || [];
    function gtag(){dataLayer.push(arguments);}
    gtag('js', new Date());
    gtag('config', 'G-BGNWS0000', {'anonymize_ip': true, 'page_type': 'news_detail'});
  </script>
  <script type="text/javascript">
    (function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push(arguments)};
    m[i].l=1*new Date();
    for (var j = 0; j < document.scripts.length; j++) {if (document.scripts[j].src === r) { return; }}
    k=e.createElement(t),a=e.getElementsByTagName(t)[0],k.async=1,k.src=r,a.parentNode.insertBefore(k,a)})
    (window, document, "script", "https://mc.yandex.ru/metrika/tag.js", "ym");
    ym(45678901, "init", {clickmap:true, trackLinks:true, accurateTrackBounce:true, webvisor:true});
  </script>
  <script>window.yaContextCb = window.yaContextCb || []</script>
  <script src="https://yandex.ru/ads/system/context.js" async></script>
  <script>
    window.BAIGE = {"lang": "ru", "env": "prod", "adfox": {"ownerId": 312456, "containers": ["adfox_top", "adfox_side", "adfox_inread"]},
      "push": {"enabled": true, "vapid": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"},
      "counters": {"liveinternet": true, "metrika": 45678901}, "version": "2024.03.07-1"};
  </script>"""


@dataclass
class ArticlePage:
    """Everything one article page shows; the markup is built from it."""

    url: str
    title: str
    lead: str
    paragraphs: list[str]  # HTML of each body paragraph (inline tags allowed)
    date_visible: str  # e.g. "12 Марта, 13:45"
    views_text: str  # e.g. "2329"
    published_iso: str | None = None  # article:published_time / JSON-LD datePublished
    modified_iso: str | None = None
    modified_visible: str | None = None  # "Обновлено: Сегодня, 09:10"
    author: str = ""
    source: str | None = None
    source_url: str | None = None
    photo_credit: str | None = None
    image: str | None = None
    image_alt: str = ""
    tags: list[str] = field(default_factory=list)
    section: tuple[str, str] = SECTIONS[0]
    lang: str = "ru"
    charset: str = "utf-8"
    #: (title, url, visible date) of the "Читайте также" block under the article.
    related: list[tuple[str, str, str]] = field(default_factory=list)
    #: Paragraph indexes after which an inline "Читайте также" link or an ad is inserted.
    read_also_after: int | None = None
    ad_after: int | None = None
    jsonld: bool = True
    base: str = "https://baigenews.kz"


def _labels(lang: str) -> dict[str, str]:
    if lang == "kk":
        return {
            "author": "АВТОР",
            "promo1": "Біздің",
            "promo2": "Telegram-арнаға",
            "promo3": "жазылып, жаңалықтарды бірінші біліңіз!",
            "photo": "Фото",
            "read_also": "Сондай-ақ оқыңыз",
            "share": "Бөлісу",
            "up": "Жоғары",
            "home": "Басты бет",
            "news": "Жаңалықтар",
            "tags": "Тегтер",
            "more": "Тағы жаңалықтар",
            "footer": "Барлық құқықтар қорғалған. Материалдарды пайдаланғанда сілтеме міндетті.",
            "search": "Іздеу",
            "updated": "Жаңартылды",
            "feed": "Жаңалықтар таспасы",
            "popular": "Көп оқылған",
        }
    return {
        "author": "АВТОР",
        "promo1": "Подпишитесь на наш",
        "promo2": "Telegram-канал",
        "promo3": "и узнавайте новости первыми!",
        "photo": "Фото",
        "read_also": "Читайте также",
        "share": "Поделиться",
        "up": "Наверх",
        "home": "Главная",
        "news": "Новости",
        "tags": "Теги",
        "more": "Больше новостей",
        "footer": "Все права защищены. При использовании материалов гиперссылка на BaigeNews.kz обязательна.",
        "search": "Поиск",
        "updated": "Обновлено",
        "feed": "Лента новостей",
        "popular": "Популярное",
    }


def _header(lang: str, base: str, charset: str, head_extra: str, title: str) -> str:
    sections = SECTIONS_KK if lang == "kk" else SECTIONS
    prefix = "/kz" if lang == "kk" else ""
    menu = "\n".join(
        f'          <li class="menu__item"><a class="menu__link" href="{prefix}/{slug}/">{escape(name)}</a></li>'
        for slug, name in sections
    )
    labels = _labels(lang)
    charset_tag = (
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        if charset != "utf-8"
        else '<meta charset="utf-8">'
    )
    icons = "\n".join(
        f'  <link rel="apple-touch-icon" sizes="{size}x{size}" href="/local/templates/baige/img/favicon/apple-{size}.png">'
        for size in (57, 72, 114, 120, 144, 152, 180)
    )
    return f"""<!DOCTYPE html>
<html lang="{lang}" prefix="og: http://ogp.me/ns# article: http://ogp.me/ns/article#">
<head>
  {charset_tag}
  <meta http-equiv="X-UA-Compatible" content="IE=edge">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)}</title>
{head_extra}
  <meta name="twitter:card" content="summary_large_image">
  <meta name="twitter:site" content="@baigenews">
  <meta name="yandex-verification" content="6c3f2a1b9d8e7f60">
  <meta name="google-site-verification" content="Qw3rTy7uIoP-aSdFgHjKl0ZxCvBnM1234567890abc">
  <meta name="theme-color" content="#d7263d">
  <link rel="icon" href="/favicon.ico">
{icons}
  <link rel="manifest" href="/manifest.json">
  <link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>
  <link rel="preconnect" href="https://mc.yandex.ru">
  <link rel="preconnect" href="https://www.googletagmanager.com">
  <link rel="preload" href="/local/templates/baige/fonts/roboto-400.woff2" as="font" type="font/woff2" crossorigin>
  <link rel="preload" href="/local/templates/baige/fonts/roboto-700.woff2" as="font" type="font/woff2" crossorigin>
  <link rel="stylesheet" href="/local/templates/baige/css/main.min.css?v=1709812345">
  <link rel="alternate" type="application/rss+xml" title="BaigeNews.kz" href="{base}/news/rss/">
  <link rel="alternate" hreflang="ru" href="{base}/">
  <link rel="alternate" hreflang="kk" href="{base}/kz/">
  <style>{CRITICAL_CSS}</style>
{ANALYTICS}
</head>
<body class="page page--news">
  <noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-BGNWS00" height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>
  {SVG_SPRITE}
  <div class="cookie" role="dialog" hidden>Мы используем файлы cookie, чтобы сайт работал лучше. <button class="cookie__button" type="button">Понятно</button></div>
  <div class="top-banner adv" data-zone="top"><div id="adfox_top"></div><a href="/adv/click/?id=77" rel="nofollow sponsored"><img src="/upload/adv/top-1200x120.jpg" alt="Реклама"></a></div>
  <div class="topbar">
    <div class="container topbar__inner">
      <span class="topbar__date" data-today></span>
      <span class="topbar__weather"><svg class="icon"><use href="#sun"></use></svg> Астана −3° · Алматы +6°</span>
      <span class="topbar__rates">USD 449,87 · EUR 489,12 · RUB 4,91</span>
    </div>
  </div>
  <header class="header" id="top">
    <div class="container header__inner">
      <a class="header__logo" href="{prefix}/"><img src="/local/templates/baige/img/logo.svg" alt="BaigeNews.kz" width="180" height="40"></a>
      <nav class="menu" aria-label="Разделы">
        <ul class="menu__list">
          <li class="menu__item"><a class="menu__link" href="{prefix}/news/">{labels["news"]}</a></li>
{menu}
        </ul>
      </nav>
      <div class="header__lang"><a href="/" class="{"" if lang == "kk" else "active"}">Рус</a> <a href="/kz/" class="{"active" if lang == "kk" else ""}">Қаз</a></div>
      <form class="header__search" action="/search/" method="get"><input type="text" name="q" placeholder="{labels["search"]}"><button type="submit">{labels["search"]}</button></form>
      <button class="header__burger" type="button" aria-label="Меню"><svg class="icon"><use href="#burger"></use></svg></button>
    </div>
    <div class="mobile-menu" hidden>
      <ul class="mobile-menu__list">
          <li class="mobile-menu__item"><a href="{prefix}/news/">{labels["news"]}</a></li>
{menu.replace("menu__", "mobile-menu__")}
      </ul>
    </div>
  </header>
"""


def _footer(lang: str) -> str:
    labels = _labels(lang)
    sections = SECTIONS_KK if lang == "kk" else SECTIONS
    prefix = "/kz" if lang == "kk" else ""
    section_links = "\n".join(
        f'          <li><a href="{prefix}/{slug}/">{escape(name)}</a></li>' for slug, name in sections
    )
    return f"""  <footer class="footer">
    <div class="container footer__inner">
      <a class="footer__logo" href="{prefix}/"><img src="/local/templates/baige/img/logo-white.svg" alt="BaigeNews.kz"></a>
      <ul class="footer__sections">
{section_links}
      </ul>
      <ul class="footer__links">
        <li><a href="/about/">О нас</a></li>
        <li><a href="/advertising/">Реклама</a></li>
        <li><a href="/contacts/">Контакты</a></li>
        <li><a href="/privacy/">Политика конфиденциальности</a></li>
        <li><a href="/rules/">Правила использования материалов</a></li>
      </ul>
      <div class="footer__social">
        <a href="https://t.me/baigenews" rel="nofollow"><svg class="icon"><use href="#telegram"></use></svg>Telegram</a>
        <a href="https://instagram.com/baigenews.kz" rel="nofollow"><svg class="icon"><use href="#instagram"></use></svg>Instagram</a>
        <a href="https://facebook.com/baigenews" rel="nofollow"><svg class="icon"><use href="#facebook"></use></svg>Facebook</a>
        <a href="https://youtube.com/@baigenews" rel="nofollow"><svg class="icon"><use href="#youtube"></use></svg>YouTube</a>
        <a href="https://tiktok.com/@baigenews" rel="nofollow"><svg class="icon"><use href="#tiktok"></use></svg>TikTok</a>
      </div>
      <div class="footer__about">© 2016–2024 BaigeNews.kz. {labels["footer"]}
        Свидетельство о постановке на учёт СМИ № KZ12VPY00012345 выдано Министерством информации и общественного развития РК.
        Мнение редакции может не совпадать с мнением авторов материалов.</div>
      <div class="footer__age">18+</div>
      <div class="footer__counters"><a href="https://www.liveinternet.ru/click" rel="nofollow"><img src="https://counter.yadro.ru/hit?t44.6" alt="" width="31" height="31"></a></div>
    </div>
  </footer>
  <a class="to-top" href="#top">{labels["up"]}</a>
  <noscript><div><img src="https://mc.yandex.ru/watch/45678901" style="position:absolute; left:-9999px;" alt=""></div></noscript>
  <script src="/local/templates/baige/js/vendor.min.js?v=1709812345" defer></script>
  <script src="/local/templates/baige/js/main.min.js?v=1709812345" defer></script>
</body>
</html>
"""


def _feed_items(page: ArticlePage, count: int, *, offset: int) -> list[tuple[str, str, str]]:
    """Deterministic sidebar headlines (title, url, time) for a page, from the corpus."""
    headlines = HEADLINES_KK if page.lang == "kk" else HEADLINES_RU
    prefix = "/kz" if page.lang == "kk" else ""
    seed = sum(map(ord, page.url)) + offset
    items = []
    for index in range(count):
        number = (seed + index * 7) % len(headlines)
        item_id = 180000 + (seed * 31 + index * 97) % 9000
        items.append(
            (
                headlines[number],
                f"{page.base}{prefix}/news-{item_id}_{item_id}/",
                f"{(23 - index) % 24:02d}:{(index * 13) % 60:02d}",
            )
        )
    return items


def article_html(page: ArticlePage) -> str:
    """Return the full HTML document of an article page."""
    labels = _labels(page.lang)
    description = page.lead
    head = [
        f'  <meta name="description" content="{escape(description)}">',
        f'  <link rel="canonical" href="{escape(page.url)}">',
        '  <meta property="og:type" content="article">',
        '  <meta property="og:site_name" content="BaigeNews.kz">',
        f'  <meta property="og:title" content="{escape(page.title)}">',
        f'  <meta property="og:description" content="{escape(description)}">',
        f'  <meta property="og:url" content="{escape(page.url)}">',
        f'  <meta property="og:locale" content="{"kk_KZ" if page.lang == "kk" else "ru_RU"}">',
    ]
    if page.image:
        head.append(f'  <meta property="og:image" content="{escape(page.base + page.image)}">')
    if page.published_iso:
        head.append(f'  <meta property="article:published_time" content="{page.published_iso}">')
    if page.modified_iso:
        head.append(f'  <meta property="article:modified_time" content="{page.modified_iso}">')
    head.append(f'  <meta property="article:section" content="{escape(page.section[1])}">')
    head.extend(f'  <meta property="article:tag" content="{escape(tag)}">' for tag in page.tags)
    if page.jsonld:
        data: dict[str, object] = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "mainEntityOfPage": {"@type": "WebPage", "@id": page.url},
            "headline": page.title,
            "description": description,
            "inLanguage": "kk" if page.lang == "kk" else "ru",
            "author": {"@type": "Organization", "name": "BaigeNews.kz", "url": page.base + "/"},
            "publisher": {
                "@type": "Organization",
                "name": "BaigeNews.kz",
                "logo": {"@type": "ImageObject", "url": page.base + "/local/templates/baige/img/logo.png"},
            },
        }
        if page.image:
            data["image"] = {"@type": "ImageObject", "url": page.base + page.image}
        if page.published_iso:
            data["datePublished"] = page.published_iso
        if page.modified_iso:
            data["dateModified"] = page.modified_iso
        block = json.dumps(data, ensure_ascii=False, indent=2).replace("</", "<\\/")
        head.append(f'  <script type="application/ld+json">\n{block}\n  </script>')

    prefix = "/kz" if page.lang == "kk" else ""
    body_parts: list[str] = [f'          <p class="news-detail__lead"><strong>{page.lead}</strong></p>']
    for index, paragraph in enumerate(page.paragraphs):
        body_parts.append(f"          <p>{paragraph}</p>")
        if page.read_also_after == index and page.related:
            title, url, _ = page.related[0]
            body_parts.append(
                f'          <div class="read-also"><span class="read-also__label">{labels["read_also"]}:</span> '
                f'<a href="{escape(url)}">{escape(title)}</a></div>'
            )
        if page.ad_after == index:
            body_parts.append(
                '          <div class="adv adv--inline" data-zone="inread"><span class="adv__label">Реклама</span>'
                '<a href="/adv/click/?id=91" rel="nofollow sponsored"><img src="/upload/adv/inread-600x300.jpg" alt=""></a></div>'
            )
    author_name = (
        f'<a class="news-detail__author-name" href="/author/{escape(page.author)}/">{escape(page.author)}</a>'
        if page.author
        else '<span class="news-detail__author-name"></span>'
    )
    source_block = ""
    if page.source:
        source_href = escape(page.source_url or f"https://{page.source}")
        source_block = (
            f'          <div class="news-detail__source">\n'
            f'            <a class="news-detail__source-link" href="{source_href}" rel="nofollow noopener" target="_blank">{escape(page.source)}</a>\n'
            f'            <span class="news-detail__source-date">{escape(page.date_visible)}</span>\n'
            f"          </div>\n"
        )
    modified_block = ""
    if page.modified_visible:
        modified_block = f'          <div class="news-detail__updated">{labels["updated"]}: <span class="news-detail__updated-date">{escape(page.modified_visible)}</span></div>\n'
    figure = ""
    if page.image:
        credit = (
            f'\n            <figcaption class="news-detail__photo-credit">{labels["photo"]}: {escape(page.photo_credit)}</figcaption>'
            if page.photo_credit
            else ""
        )
        figure = (
            f'        <figure class="news-detail__image">\n'
            f'            <img src="{escape(page.image)}" alt="{escape(page.image_alt or page.title)}" width="1200" height="675">{credit}\n'
            f"        </figure>\n"
        )
    tags = "\n".join(
        f'          <a class="news-detail__tag" href="{prefix}/tags/{escape(tag.lower())}/">{escape(tag)}</a>'
        for tag in page.tags
    )
    related = "\n".join(
        f'          <li class="related-news__item"><a href="{escape(url)}"><span class="related-news__title">{escape(title)}</span>'
        f'<span class="related-news__date">{escape(date)}</span></a></li>'
        for title, url, date in page.related
    )
    feed = "\n".join(
        f'            <li class="news-feed__item"><span class="news-feed__date">{time}</span>'
        f'<a class="news-feed__link" href="{escape(url)}">{escape(title)}</a></li>'
        for title, url, time in _feed_items(page, 25, offset=0)
    )
    popular = "\n".join(
        f'            <li class="popular__item"><a class="popular__link" href="{escape(url)}">{escape(title)}</a>'
        f'<span class="popular__views"><svg class="icon"><use href="#eye"></use></svg>{1000 + index * 733}</span></li>'
        for index, (title, url, _) in enumerate(_feed_items(page, 8, offset=5))
    )
    section_slug, section_name = page.section
    nl = "\n"
    return (
        _header(page.lang, page.base, page.charset, nl.join(head), f"{page.title} - BaigeNews.kz")
        + f"""  <main class="main">
    <div class="container">
      <ul class="breadcrumbs">
        <li><a href="{prefix}/">{labels["home"]}</a></li>
        <li><a href="{prefix}/{section_slug}/">{escape(section_name)}</a></li>
      </ul>
      <div class="layout">
      <article class="news-detail">
        <h1 class="news-detail__title">{escape(page.title)}</h1>
        <div class="news-detail__top">
          <span class="news-detail__date">{escape(page.date_visible)}</span>
          <div class="news-detail__author"><span class="news-detail__author-label">{labels["author"]}</span> {author_name}</div>
        </div>
        <div class="tg-promo">
          <div class="tg-promo__text">{labels["promo1"]}</div>
          <a class="tg-promo__link" href="https://t.me/baigenews" rel="nofollow">{labels["promo2"]}</a>
          <div class="tg-promo__text">{labels["promo3"]}</div>
        </div>
        <div class="news-detail__info">
{source_block}{modified_block}          <div class="news-detail__stats">
            <span class="news-detail__date news-detail__date--small">{escape(page.date_visible)}</span>
            <span class="news-detail__views"><svg class="icon icon--eye" width="16" height="16"><use href="#eye"></use></svg>{escape(page.views_text)}</span>
          </div>
        </div>
{figure}        <div class="news-detail__body">
{nl.join(body_parts)}
        </div>
        <div class="news-detail__tags">
          <span class="news-detail__tags-label">{labels["tags"]}:</span>
{tags}
        </div>
        <div class="share">
          <span class="share__label">{labels["share"]}:</span>
          <a class="share__item share__item--wa" href="https://wa.me/?text={escape(page.url)}" rel="nofollow">WhatsApp</a>
          <a class="share__item share__item--tg" href="https://t.me/share/url?url={escape(page.url)}" rel="nofollow">Telegram</a>
          <a class="share__item share__item--fb" href="https://www.facebook.com/sharer/sharer.php?u={escape(page.url)}" rel="nofollow">Facebook</a>
          <button class="share__item share__item--copy" type="button">Скопировать ссылку</button>
        </div>
      </article>
      <aside class="sidebar">
        <div class="news-feed">
          <div class="news-feed__title">{labels["feed"]}</div>
          <ul class="news-feed__list">
{feed}
          </ul>
          <a class="news-feed__more" href="{prefix}/news/">{labels["more"]}</a>
        </div>
        <div class="sidebar__block adv" data-zone="sidebar"><div id="adfox_side"></div><img src="/upload/adv/side-300x600.jpg" alt="Реклама"></div>
        <div class="popular">
          <div class="popular__title">{labels["popular"]}</div>
          <ol class="popular__list">
{popular}
          </ol>
        </div>
      </aside>
      </div>
      <section class="related-news">
        <h2 class="related-news__heading">{labels["read_also"]}</h2>
        <ul class="related-news__list">
{related}
        </ul>
      </section>
      <section class="partners">
        <div class="partners__title">Новости партнёров</div>
        <div id="smi2_widget_1234" class="partners__widget"></div>
        <script>(function(){{var s=document.createElement("script");s.async=true;s.src="https://smi2.ru/data/js/1234.js";document.head.appendChild(s);}})();</script>
      </section>
    </div>
  </main>
"""
        + _footer(page.lang)
    )


def listing_html(
    title: str,
    links: list[tuple[str, str, str]],
    *,
    base: str,
    next_url: str | None,
    prev_url: str | None,
    lang: str = "ru",
) -> str:
    """A section or news listing page: headlines with dates, and pagination links."""
    items = "\n".join(
        f'          <li class="news-list__item"><span class="news-list__date">{escape(date)}</span>'
        f'<a class="news-list__link" href="{escape(url)}">{escape(headline)}</a></li>'
        for headline, url, date in links
    )
    pager = []
    if prev_url:
        pager.append(f'<a class="pagination__prev" rel="prev" href="{escape(prev_url)}">Предыдущая</a>')
    if next_url:
        pager.append(f'<a class="pagination__next" rel="next" href="{escape(next_url)}">Следующая</a>')
    return (
        _header(
            lang,
            base,
            "utf-8",
            f'  <link rel="canonical" href="{escape(base)}/news/">',
            f"{title} - BaigeNews.kz",
        )
        + f"""  <main class="main">
    <div class="container">
      <h1 class="page-title">{escape(title)}</h1>
      <ul class="news-list">
{items}
      </ul>
      <div class="pagination">{" ".join(pager)}</div>
      <a class="search-link" href="/search/?q=%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8">Поиск по архиву</a>
    </div>
  </main>
"""
        + _footer(lang)
    )
