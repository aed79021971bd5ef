// What the dev page takes from @ag-ui/client: its HTTP agent (which checks the order of the
// events it reads) and the event type names. Bundled as window.AGUIClient by build.py.
export { EventType, HttpAgent } from "@ag-ui/client";
