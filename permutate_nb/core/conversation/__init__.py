"""Conversation test cases: several user turns, tool results fed back, scored per turn and by end state.

``loop.converse`` runs one conversation; ``tool_results.ToolResponder`` answers its calls (scripted,
a backend, or the real operation); ``trajectory.score_turn`` scores a turn; ``backend`` loads and
checks stateful Python backends; ``row.conversation_row`` writes the run's row.
"""
