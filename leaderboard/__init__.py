"""The static leaderboard site: templates, plots and assets rendered from the results store + registry."""
