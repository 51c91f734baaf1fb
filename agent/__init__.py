"""AMCS songwriting brains: node logic, engines and text analysis, free of LangGraph and HTTP."""
