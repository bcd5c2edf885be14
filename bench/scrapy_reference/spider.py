"""A minimal Scrapy spider doing the same crawl as `scrape crawl`: sitemaps to articles, the same fields to JSON lines.

Run by bench/crawl.py as: python -m bench.scrapy_reference.spider SITEMAP_URL OUTPUT.jsonl CONCURRENCY
"""

from __future__ import annotations

import re
import sys
from typing import Any, ClassVar

from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.spiders import SitemapSpider

ARTICLE = re.compile(r"_\d+/$")


class ArticleSpider(SitemapSpider):
    name = "articles"
    sitemap_rules: ClassVar = [(ARTICLE, "parse_article")]

    def parse_article(self, response: Response) -> Any:
        page = response
        yield {
            "url": page.url,
            "title": page.css("h1.news-detail__title::text").get(default="").strip(),
            "lead": " ".join(page.css(".news-detail__lead ::text").getall()).strip(),
            "author": page.css(".news-detail__author-name::text").get(default="").strip(),
            "published_raw": page.css(".news-detail__top .news-detail__date::text").get(default="").strip(),
            "published_at": page.css('meta[property="article:published_time"]::attr(content)').get(),
            "views": page.css(".news-detail__views::text").get(default="").strip(),
            "source": page.css(".news-detail__source-link::text").get(default="").strip(),
            "photo_credit": page.css(".news-detail__photo-credit::text").get(default="").strip(),
            "image_url": page.css(".news-detail__image img::attr(src)").get(),
            "tags": page.css(".news-detail__tag::text").getall(),
            "body_text": "\n\n".join(
                " ".join(p.css("::text").getall()).strip() for p in page.css(".news-detail__body > p")
            ),
        }


def main() -> None:
    sitemap, output, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ArticleSpider.sitemap_urls = [sitemap]
    process = CrawlerProcess(
        settings={
            "LOG_LEVEL": "WARNING",
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "DOWNLOAD_DELAY": 0,
            "ROBOTSTXT_OBEY": True,
            "TELNETCONSOLE_ENABLED": False,
            "FEEDS": {output: {"format": "jsonlines", "encoding": "utf8"}},
            "USER_AGENT": "bench-scrapy",
        }
    )
    process.crawl(ArticleSpider)
    process.start()


if __name__ == "__main__":
    main()
