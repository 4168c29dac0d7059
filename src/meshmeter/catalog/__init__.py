"""Catalog: model designations, ratings and accuracy classes (certificate p.1, manual §2.4, §3.1)."""
