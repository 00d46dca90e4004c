"""The dashboard's pages under streamlit.testing.v1.AppTest, one file per page (a package, so that its
conftest's store is built once for all of them)."""
