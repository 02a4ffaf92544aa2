"""The search index of repositories and tags (filled by the crawler)."""
