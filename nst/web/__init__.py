"""The browser page (`nst web`): make pictures without YAML, look back at runs, apply networks.

controls.py  the page's controls <-> config keys (pure)
uploads.py   an uploaded file checked as nst checks images: size cap, decodable, not a bomb
gallery.py   the runs under the runs folder: pictures, readouts, settings; path confinement
painting.py  a picture made in a background thread: live steps, time left, Stop, resume
page.py      the Gradio layout and its handlers
server.py    starting it safely: loopback by default, --auth for other hosts, queue, caps
"""
