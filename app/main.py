"""ADePT Lab dashboard: ``streamlit run app/main.py`` (``make run`` binds it to 127.0.0.1:8501).

Five pages: Launch (queue runs), Runs (watch, manage, re-run), Compare (runs side by side, by any config
field), Offsets (what the trained offsets do), Try (a trained model on your text, with downloads). The app
only reads MLflow and calls ``adept.launcher``; training runs in its own processes, so closing the browser
or restarting the app never stops or loses a run.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` puts app/ on the path, not the repository
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import common  # noqa: E402

st.set_page_config(layout="wide", page_title="ADePT Lab", page_icon=":material/tune:")

PAGES = [
    st.Page("views/launch.py", title="Launch", icon=":material/rocket_launch:", default=True),
    st.Page("views/runs.py", title="Runs", icon=":material/list_alt:"),
    st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("views/offsets.py", title="Offsets", icon=":material/scatter_plot:"),
    st.Page("views/try_model.py", title="Try", icon=":material/science:", url_path="try"),
    st.Page("views/evidence.py", title="Evidence", icon=":material/fact_check:"),
]

page = st.navigation(PAGES)
with st.sidebar:
    st.markdown("### ADePT Lab")
    st.caption("PT · DePT · ADePT prompt tuning at an equal parameter budget, tracked in MLflow.")
common.sidebar()
page.run()
