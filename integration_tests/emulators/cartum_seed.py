"""The seeded Ukrainian world of the Cartum emulator: price levels, customer groups (one of them
with dropshipping), managers, B2B users and their orders.

Everything is deterministic for a given `random.Random`. Dates are shop-local and naive, written
as the API writes them ('YYYY-MM-DD HH:MM:SS'). User dicts have exactly the shape of
`users/export` (seed 001), because the import side stores imported users in the same dict and
the export returns them as they are.
"""

from __future__ import annotations

import bisect
import random
from datetime import datetime, timedelta
from typing import Any

from emulators.cartum_model import Shop

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

PRICE_LEVELS = [
    {"id": 1, "title": "Приховати ціни"},
    {"id": 2, "title": "Роздрібна ціна"},
    {"id": 3, "title": "Оптова ціна 1"},
    {"id": 4, "title": "Оптова ціна 2"},
    {"id": 5, "title": "Дилерська ціна"},
]


def _group(gid: int, title: str, level: int, visibility: tuple[int, str], dropshipping: bool,
           payments: list[str], deliveries: list[str], residues: bool = False, price_list: bool = False) -> dict[str, Any]:
    return {
        "id": gid,
        "title": title,
        "visible_price_level": {"id": level, "title": next(p["title"] for p in PRICE_LEVELS if p["id"] == level)},
        "product_visibility": {"id": visibility[0], "title": visibility[1]},
        "show_residues_near_status": residues,
        "show_price_list": price_list,
        "dropshipping": dropshipping,
        "available_payment_methods": payments,
        "available_delivery_methods": deliveries,
    }


FULL_ACCESS = (3, "Повний доступ до товарів")
CUSTOMER_GROUPS = [
    _group(1, "Незареєстровані відвідувачі", 2, FULL_ACCESS, False, ["12", "13"], ["3", "8"]),
    _group(2, "Зареєстровані покупці", 2, FULL_ACCESS, False, ["12", "13", "14"], ["3", "8"]),
    _group(3, "Оптові покупці", 3, FULL_ACCESS, False, ["12", "13", "14", "15", "16"], ["3", "8", "22"], True, True),
    _group(4, "Дилери", 5, (2, "Лише товари в наявності"), False, ["14", "15"], ["3", "22"], True, True),
    _group(5, "Дропшипери", 4, FULL_ACCESS, True, ["12", "13", "14", "15", "16"], ["3", "8", "22"], True, False),
]

MANAGERS = {
    61: {"id": 61, "name": "Олександр Коваленко", "phone": 380994565789},
    62: {"id": 62, "name": "Ірина Бондаренко", "phone": 380672223344},
    63: {"id": 63, "name": "Дмитро Ткаченко", "phone": 380503337788},
}

PAYMENT_TYPES = {"12": "Оплата на картку", "13": "Готівкою", "14": "Безготівковий розрахунок",
                 "15": "Накладений платіж", "16": "Оплата з балансу"}
DELIVERY_TYPES = {"3": "Нова Пошта (відділення)", "8": "Самовивіз", "22": "Укрпошта"}

FIRST_NAMES = [("Олена", "olena"), ("Андрій", "andrii"), ("Марія", "mariia"), ("Тарас", "taras"),
               ("Оксана", "oksana"), ("Богдан", "bohdan"), ("Наталія", "nataliia"), ("Юрій", "yurii"),
               ("Ганна", "hanna"), ("Василь", "vasyl"), ("Софія", "sofiia"), ("Степан", "stepan")]
LAST_NAMES = [("Шевченко", "shevchenko"), ("Коваленко", "kovalenko"), ("Бондаренко", "bondarenko"),
              ("Ткаченко", "tkachenko"), ("Кравченко", "kravchenko"), ("Олійник", "oliinyk"),
              ("Мельник", "melnyk"), ("Лисенко", "lysenko"), ("Гончаренко", "honcharenko"), ("Руденко", "rudenko")]
CITIES = ["Київ", "Львів", "Харків", "Одеса", "Дніпро", "Вінниця", "Полтава", "Чернігів", "Ужгород"]
STREETS = ["вул. Хрещатик", "вул. Шевченка", "просп. Свободи", "вул. Соборна", "вул. Грушевського", "вул. Франка"]
COMPANIES = ["ТОВ «Агроторг»", "ФОП Мельник", "ТОВ «Будмайстер»", "ПП «Світанок»", "ТОВ «Техносвіт»", ""]
ROLES = ["Директор", "Менеджер із закупівель", "Бухгалтер", "Власник", ""]
PRODUCTS = [("BH-12345", "Кавоварка ріжкова", 3413), ("UA-2001", "Чайник електричний", 899),
            ("UA-3050", "Блендер занурювальний", 1250), ("KY-777", "Мультиварка", 2799),
            ("LV-1200", "Праска парова", 1499), ("OD-0042", "Тостер", 649)]

# The B2B-only keys, dropped from answers of a shop without the B2B module.
USER_B2B_KEYS = ("customer_group_id", "balance", "balance_currency", "manager", "site_link", "company", "role")
ORDER_B2B_KEYS = ("customer_details", "dropshipping_details")


def group_by_id(shop: "Shop", gid: Any) -> dict[str, Any] | None:
    return next((g for g in shop.customer_groups if g["id"] == gid), None)


def make_user(shop: "Shop", rng: random.Random, registered: datetime, **fields: Any) -> dict[str, Any]:
    """A new user with the next id, in export shape; `fields` override the generated values."""
    first, first_lat = rng.choice(FIRST_NAMES)
    last, last_lat = rng.choice(LAST_NAMES)
    uid = shop.next_user_id
    manager = MANAGERS[rng.choice(sorted(MANAGERS))] if rng.random() < 0.8 else None
    company = rng.choice(COMPANIES)
    user = {
        "id": uid,
        "title": f"{last} {first}",
        "email": f"{first_lat}.{last_lat}.{uid}@ukr.net",
        "phone": f"+380{rng.choice(['50', '63', '67', '68', '73', '93', '97'])}{rng.randrange(10**7):07d}",
        "country": "Україна",
        "city": rng.choice(CITIES),
        "address": f"{rng.choice(STREETS)}, {rng.randrange(1, 120)}",
        "registered": registered.strftime(DATE_FORMAT),
        "customer_group_id": rng.choice([2, 2, 3, 3, 4, 5]),
        "balance": rng.choice([0, 0, 122, 5000, -1500, rng.randrange(-2000, 20000)]),
        "balance_currency": rng.choice([1, 1, 1, 2, 3]),
        "manager": dict(manager) if manager else None,
        "site_link": f"https://{last_lat}-{uid}.com.ua" if company else "",
        "company": company,
        "role": rng.choice(ROLES) if company else "",
    }
    user.update(fields)
    shop.next_user_id = max(shop.next_user_id, int(user["id"])) + 1
    shop.users[user["email"]] = user
    return user


def make_order(shop: "Shop", rng: random.Random, created: datetime, user: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    """A new order with the next order_id; B2B blocks follow the user's group."""
    oid = shop.next_order_id
    group = group_by_id(shop, user.get("customer_group_id")) if user else group_by_id(shop, 1)
    group = group or shop.customer_groups[0] if shop.customer_groups else None
    lines = [rng.choice(PRODUCTS) for _ in range(rng.randrange(1, 4))]
    products = [
        {"article": art, "title": title, "quantity": q, "price": price, "total_price": price * q}
        for (art, title, price), q in ((line, rng.randrange(1, 4)) for line in lines)
    ]
    total = sum(p["total_price"] for p in products)
    delivery_id = rng.choice(group["available_delivery_methods"] if group else ["3"])
    payment_id = rng.choice(group["available_payment_methods"] if group else ["13"])
    discount = rng.choice([0, 0, 0, 5, 10])
    dropshipping = bool(group and group.get("dropshipping"))
    order: dict[str, Any] = {
        "order_id": oid,
        "user": user["id"] if user else 0,
        "delivery_name": user["title"] if user else "Гість Магазину",
        "delivery_email": user["email"] if user else f"guest{oid}@gmail.com",
        "delivery_phone": user["phone"] if user else "+380441234567",
        "delivery_city": user["city"] if user else "Київ",
        "delivery_address": f"Відділення №{rng.randrange(1, 300)}: {rng.choice(STREETS)}, {rng.randrange(1, 90)}",
        "delivery_type": {"id": int(delivery_id), "title": DELIVERY_TYPES.get(delivery_id, "Доставка")},
        "delivery_price": rng.choice([-1, 0, 70, 120]),
        "comment": rng.choice(["", "", "Передзвоніть, будь ласка", "Доставити після 18:00"]),
        "payment_type": {"id": int(payment_id), "title": PAYMENT_TYPES.get(payment_id, "Оплата")},
        "payment_price": 0,
        "payed": rng.choice([0, 1]),
        "total_default": total,
        "total_sum": round(total * (100 - discount) / 100, 2),
        "total_quantity": sum(p["quantity"] for p in products),
        "discount_percent": discount,
        "discount_value": round(total * discount / 100, 2),
        "coupon_code": "",
        "coupon_percent": 0,
        "coupon_discount_value": 0,
        "coupon_type": 0,
        "stat_status": rng.choice([1, 2, 2, 3, 4, 5]),
        "stat_created": created.strftime(DATE_FORMAT),
        "currency": "UAH",
        "order_without_callback": rng.random() < 0.2,
        "products": products,
        "delivery_data": {"ttn": f"204{rng.randrange(10**11):011d}" if rng.random() < 0.6 else "",
                          "ownTTNPicked": dropshipping and rng.random() < 0.5},
    }
    if group:
        level = group["visible_price_level"]
        order["customer_details"] = {
            "group": {"id": group["id"], "title": group["title"]},
            "price_level": {"id": level["id"], "title": level["title"]},
        }
    if dropshipping:
        first, _ = rng.choice(FIRST_NAMES)
        last, _ = rng.choice(LAST_NAMES)
        order["dropshipping_details"] = {
            "recipient_payment_price": round(total * 1.15),
            "dropshiper": {"name": f"{first} {last}", "phone": f"+38 (0{rng.randrange(50, 99)}) {rng.randrange(100, 999)}-{rng.randrange(10, 99)}-{rng.randrange(10, 99)}"},
        }
    order.update(fields)
    order["_updated"] = order["stat_created"]
    shop.next_order_id = max(shop.next_order_id, int(order["order_id"])) + 1
    shop.orders.append(order)
    return order


LOCAL_PHONE_STYLES = (
    lambda op, n: f"0{op}{n}",                                   # 0501234567
    lambda op, n: f"0{op} {n[:3]} {n[3:5]} {n[5:]}",             # 050 123 45 67
    lambda op, n: f"(0{op}) {n[:3]}-{n[3:5]}-{n[5:]}",           # (050) 123-45-67
    lambda op, n: f"+38 (0{op}) {n[:3]}-{n[3:5]}-{n[5:]}",       # +38 (050) 123-45-67
    lambda op, n: f"380{op}{n}",                                 # 380501234567
    lambda op, n: f"+380{op}{n}",                                # +380501234567 (E.164)
)
LONG_NAME = ("Олександра-Марія Вікторівна Шевченко-Коваленко-Бондаренко " * 6)[:300]
DIACRITIC_NAMES = ["Zoë Łukasiewicz-Müller", "Žofia Čepková", "José Nuñez García", "Ðorđe Šćepanović", "Ганна Ґудзь-Їжакевич"]


def realistic_touches(shop: "Shop", rng: random.Random, now_local: datetime) -> None:
    """What real shops hold (issue 13): local-format phones, missing and null values, e-mails
    differing only in case, names with diacritics and of 300 characters, and a few records
    stamped in the future (a wrong clock, a typo in an import)."""
    people = shop.users_by_id()
    for i, user in enumerate(people):
        roll = rng.random()
        digits = str(user["phone"])[-9:]
        if roll < 0.55:
            user["phone"] = rng.choice(LOCAL_PHONE_STYLES)(digits[:2], digits[2:])
        elif roll < 0.62:
            user["phone"] = ""
        elif roll < 0.67:
            user["phone"] = None
        if rng.random() < 0.1:
            user["city"] = None
        if rng.random() < 0.1:
            user["address"] = ""
        if rng.random() < 0.05:
            user["country"] = ""
    if len(people) >= 4:
        # e-mails differing only in case: two different users of the shop
        twin, source = people[1], people[2]
        del shop.users[twin["email"]]
        local, _, domain = source["email"].partition("@")
        twin["email"] = f"{local[:1].upper()}{local[1:]}@{domain.upper()}"
        shop.users[twin["email"]] = twin
        people[3]["title"] = LONG_NAME
        for user, name in zip(people[4:], DIACRITIC_NAMES):
            user["title"] = name
    # a few records stamped in the future (a wrong clock, a typo in an import): two users and
    # two orders of the seeded counts get a registration / creation date ahead of now
    if len(people) >= 12:
        for user, moment in zip(rng.sample(people[10:], 2), (now_local + timedelta(days=3), now_local.replace(year=now_local.year + 10))):
            user["registered"] = moment.strftime(DATE_FORMAT)
    if len(shop.orders) >= 2:
        for order, moment in zip(rng.sample(shop.orders, 2), (now_local + timedelta(days=2), now_local.replace(year=now_local.year + 10))):
            order["stat_created"] = order["_updated"] = moment.strftime(DATE_FORMAT)


def seed_shop(shop: "Shop", rng: random.Random, now_local: datetime, users: int, orders: int,
              days: int = 730, tidy: bool = False) -> None:
    """Fill `shop`: groups, levels, managers, `users` users registered over the last `days` days
    (ids ascend with the registration time) and `orders` orders of the last year.

    By default the world looks like a real shop (`tidy=False`): about 40 % of the users came in
    bulk imports, each registering its users in one second (up to several hundred), and
    `realistic_touches` adds local phones, nulls, case-twins, long and diacritic names and a few
    future-stamped users and orders (two of each, out of `users`/`orders`). `tidy=True` is the
    old world: one registration per random second, E.164 phones, every field filled, nothing in
    the future."""
    shop.price_levels = [dict(p) for p in PRICE_LEVELS]
    shop.customer_groups = [dict(g) for g in CUSTOMER_GROUPS]
    shop.managers = {k: dict(v) for k, v in MANAGERS.items()}
    start = now_local - timedelta(days=days)
    span = int((now_local - start).total_seconds()) - 3600
    if tidy or users < 10:
        moments = sorted(start + timedelta(seconds=rng.randrange(span)) for _ in range(users))
    else:
        bulk = int(users * 0.4)
        imports = [bulk - bulk // 3, bulk // 3]  # two imports: one big, one smaller
        singles = users - sum(imports)
        moments = [start + timedelta(seconds=rng.randrange(span)) for _ in range(singles)]
        for size in imports:
            when = start + timedelta(seconds=rng.randrange(span))
            moments += [when] * size
        moments.sort()
    for moment in moments:
        make_user(shop, rng, moment)
    people = shop.users_by_id()
    registered = [u["registered"] for u in people]
    order_start = now_local - timedelta(days=min(days, 365))
    order_span = int((now_local - order_start).total_seconds()) - 3600
    for moment in sorted(order_start + timedelta(seconds=rng.randrange(order_span)) for _ in range(orders)):
        known = bisect.bisect_right(registered, moment.strftime(DATE_FORMAT)) or len(people)
        owner = people[rng.randrange(known)] if people and rng.random() < 0.9 else None
        make_order(shop, rng, moment, owner)
    if not tidy and users >= 10:
        realistic_touches(shop, rng, now_local)
