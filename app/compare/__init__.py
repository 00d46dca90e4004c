"""Sections of the Compare page that live apart from app/views/compare.py."""
