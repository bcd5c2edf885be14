"""Run the command line with `python -m scraper`."""

from scraper.cli import main

main()
