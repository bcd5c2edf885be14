"""The reference crawler for bench/crawl.py: a minimal Scrapy project (benchmark dependency only)."""
