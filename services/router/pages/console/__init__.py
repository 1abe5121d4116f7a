"""The ops and supervisors' console (运行监控台): server-rendered pages, no CDN assets."""
