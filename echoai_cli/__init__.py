"""`echoai`: the command line of EchoAI (typer + rich), built on `echoai_client`."""
