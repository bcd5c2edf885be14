"""Site profiles as TOML data, one file per site; read by scraper.profiles."""
